"""backfill's Ray-free steps: records checked as POST /documents checks them, one row per id a commit."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from topicserve import backfill


def test_jsonl_lines_become_checked_document_columns():
    lines = [
        json.dumps(
            {"id": "a", "text": "A bronze rider.", "timestamp": "2026-03-01T10:00:00+01:00", "metadata": {"x": 1}}
        ),
        "   ",
        json.dumps({"id": "b", "text": "A chapel fresco."}),
    ]
    cols = backfill.parse_jsonl({"text": np.array(lines, dtype=object)})
    assert cols == {
        "id": ["a", "b"],
        "text": ["A bronze rider.", "A chapel fresco."],
        "timestamp": ["2026-03-01T09:00:00+00:00", ""],  # UTC, as the store keeps it; "" = time of commit
        "metadata": ['{"x": 1}', "{}"],
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "c", "text": ""}', "JSONL record 'c': text"),
        ('{"id": "d", "text": "ok", "timestamp": "yesterday"}', "JSONL record 'd': timestamp"),
        ('{"id": "bad id", "text": "ok"}', "id"),
        ('{"id": "e", "text": "ok", "colour": "red"}', "colour"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_record_is_named(line, message):
    with pytest.raises(ValueError, match=message):
        backfill.parse_jsonl({"text": np.array([line], dtype=object)})


def test_parquet_rows_put_extra_columns_into_metadata():
    table = pa.Table.from_pylist([{"id": "p1", "text": "A marble bust.", "timestamp": None, "room": "east", "n": 3}])
    cols = backfill.parse_parquet(table)
    assert cols["id"] == ["p1"] and json.loads(cols["metadata"][0]) == {"room": "east", "n": 3}


def test_one_row_per_id_in_a_commit_the_last_wins():
    batch = {"id": np.array(["a", "b", "a"]), "text": np.array(["1", "2", "3"])}
    out = backfill._unique_last(batch)
    assert list(out["id"]) == ["b", "a"] and list(out["text"]) == ["2", "3"]


def test_files_of_a_directory(tmp_path):
    (tmp_path / "x.jsonl").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y.parquet").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    jsonl, parquet = backfill._files(tmp_path)
    assert [p.split("/")[-1] for p in jsonl] == ["x.jsonl"] and [p.split("/")[-1] for p in parquet] == ["y.parquet"]
    with pytest.raises(ValueError, match=r"no \.jsonl or \.parquet"):
        backfill._files(tmp_path / "notes.txt")


def test_parquet_files_are_read_a_record_batch_at_a_time(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    rows = [{"id": f"p{i}", "text": f"Print number {i}.", "n": i} for i in range(5)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet")
    monkeypatch.setattr(backfill, "PARQUET_ROWS", 2)
    batches = list(backfill.read_parquet_files({"path": np.array([str(tmp_path / "a.parquet")])}))
    assert [len(b["id"]) for b in batches] == [2, 2, 1]
    assert [i for b in batches for i in b["id"]] == [r["id"] for r in rows]
    assert json.loads(batches[2]["metadata"][0]) == {"n": 4}


def test_a_store_table_reads_back_as_document_columns(tmp_path):
    """What `backfill --from-store` re-embeds: the table's rows, read as Ray Data's read_lance reads them."""
    from datetime import UTC, datetime

    import lance

    from topicserve.space import EmbeddingSpace
    from topicserve.store import DocumentStore, StoredDocument, connect

    store = DocumentStore(str(tmp_path), table="old", background=False)
    stamp = datetime(2026, 3, 1, 10, tzinfo=UTC)
    docs = [StoredDocument(id="s1", text="A chapel fresco.", timestamp=stamp, metadata={"room": "nave"})]
    store.upsert(docs, np.ones((1, 4)), EmbeddingSpace(model="m", dim=4))
    table = lance.dataset(connect.table_uri(str(tmp_path), "old")).to_table(columns=backfill.SOURCE_COLUMNS)
    cols = backfill.stored_columns(table)
    assert cols == {
        "id": ["s1"],
        "text": ["A chapel fresco."],
        "timestamp": ["2026-03-01T10:00:00+00:00"],
        "metadata": ['{"room": "nave"}'],
    }
    again = backfill._document({**{k: v[0] for k, v in cols.items()}, "metadata": json.loads(cols["metadata"][0])}, "x")
    assert again["timestamp"] == cols["timestamp"][0]  # checks as POST /documents would, unchanged
