"""Reading documents for `ingest`: JSONL passed through with line numbers, Parquet mapped to documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from topicserve.client.files import InputFileError, batched, count_records, read_documents
from topicserve.client.render import sparkline


def test_jsonl_documents_keep_their_line_numbers(tmp_path):
    path = tmp_path / "docs.jsonl"
    docs = [{"id": "a", "text": "one", "extra": 1}, {"id": "b", "text": "two", "timestamp": "2026-01-01T00:00:00Z"}]
    path.write_text(json.dumps(docs[0]) + "\n\n" + json.dumps(docs[1]) + "\n")
    assert count_records(path) == 2
    assert list(read_documents(path)) == [("line 1", docs[0]), ("line 3", docs[1])]  # unchanged: the server judges


@pytest.mark.parametrize(
    ("content", "message"), [("{not json}\n", "line 1: not JSON"), ('["a"]\n', "line 1: expected")]
)
def test_bad_jsonl_names_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InputFileError, match=message):
        list(read_documents(path))


@pytest.mark.parametrize("name", ["missing.jsonl", "docs.csv"])
def test_missing_or_unknown_files_are_refused(tmp_path, name):
    (tmp_path / "docs.csv").write_text("id,text\n")
    with pytest.raises(InputFileError):
        count_records(tmp_path / name)


def test_parquet_rows_become_documents(tmp_path):
    aware = datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    table = pa.table(
        {
            "id": ["p1", "p2"],
            "text": ["a marble bust", "a fresco"],
            "timestamp": pa.array([aware, aware], type=pa.timestamp("us", tz="+02:00")),
            "naive": pa.array([datetime(2026, 3, 1, 12), None], type=pa.timestamp("us")),
            "metadata": pa.array([{"room": "3"}, None], type=pa.struct([("room", pa.string())])),
            "room_count": [4, 5],
        }
    )
    path = tmp_path / "docs.parquet"
    pq.write_table(table, path)
    assert count_records(path) == 2
    (w1, d1), (w2, d2) = read_documents(path)
    assert (w1, w2) == ("row 1", "row 2")
    assert d1["id"] == "p1" and d1["text"] == "a marble bust"
    assert datetime.fromisoformat(d1["timestamp"]) == aware  # the instant and its zone survive
    # Other columns go into metadata; a naive timestamp is taken as UTC and carries the zone.
    assert d1["metadata"] == {"room": "3", "naive": "2026-03-01T12:00:00+00:00", "room_count": 4}
    assert datetime.fromisoformat(d1["metadata"]["naive"]).tzinfo == UTC
    assert d2["metadata"] == {"room_count": 5}


def test_batched_and_sparkline():
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert sparkline([0, 1, 2, 4, 8]) == "▁▂▃▅█"
    assert sparkline([0, 0]) == "▁▁" and sparkline([]) == ""
