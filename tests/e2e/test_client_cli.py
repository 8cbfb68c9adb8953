"""`python -m topicserve ingest|search|trends|topics|evaluate --url` against the deployed app.

Each command runs as a subprocess (what a user types) and talks real HTTP to the Serve proxy; its
output is compared with what the API itself answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import BASE, ROOT

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC)
JSONL_DOCS = [
    {"id": "cli-j0", "text": "The sculptor cast a bronze horse for the city square.", "metadata": {"room": "5"}},
    {"id": "cli-j1", "text": "Conservators cleaned the soot from the chapel ceiling fresco."},
    {"id": "cli-j2", "text": "The architect's drawings show a dome over the new reading room."},
]
PARQUET_TEXTS = [
    "A marble relief of dancing figures was carved for the palace staircase.",
    "The museum acquired a collection of Japanese woodblock prints at auction.",
    "Photographs of the harbour from the 1890s go on show next month.",
]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "topicserve", *args, "--url", BASE],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160", **(env or {})},
    )


def ok(*args: str) -> str:
    out = cli(*args)
    assert out.returncode == 0, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def post(http, path, body):
    resp = http.post(f"{BASE}{path}", json=body, timeout=300)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def files(tmp_path):
    jsonl = tmp_path / "docs.jsonl"
    docs = [{**d, "timestamp": (NOW - timedelta(days=i + 1)).isoformat()} for i, d in enumerate(JSONL_DOCS)]
    jsonl.write_text("".join(json.dumps(d) + "\n" for d in docs))
    parquet = tmp_path / "docs.parquet"
    table = pa.table(
        {
            "id": [f"cli-p{i}" for i in range(3)],
            "text": PARQUET_TEXTS,
            "timestamp": pa.array([NOW - timedelta(hours=5 * i) for i in range(3)], type=pa.timestamp("ms", tz="UTC")),
            "source": ["catalogue", "press", "press"],
        }
    )
    pq.write_table(table, parquet)
    return jsonl, parquet, docs


def test_ingest_jsonl_and_parquet_then_read_back(http, deployed, files):
    jsonl, parquet, docs = files
    assert "ingested 3 documents" in ok("ingest", str(jsonl), "--batch-size", "2")
    summary = json.loads(ok("ingest", str(parquet), "--json"))
    assert summary == {"ingested": 3, "batches": 1, "file": str(parquet)}

    stored = http.get(f"{BASE}/documents/cli-j0").json()
    assert stored["text"] == docs[0]["text"] and stored["metadata"] == {"room": "5"}
    assert datetime.fromisoformat(stored["timestamp"]) == datetime.fromisoformat(docs[0]["timestamp"])
    from_parquet = http.get(f"{BASE}/documents/cli-p1").json()
    assert from_parquet["text"] == PARQUET_TEXTS[1] and from_parquet["metadata"] == {"source": "press"}


def test_search_trends_topics_match_the_api(http, deployed, files):
    jsonl, parquet, _ = files
    ok("ingest", str(jsonl))
    ok("ingest", str(parquet))

    query = "a bronze statue of a horse"
    got = json.loads(ok("search", query, "-k", "4", "--json"))
    want = post(http, "/search", {"query": query, "k": 4})
    assert [h["id"] for h in got["results"]] == [h["id"] for h in want["results"]]
    table = ok("search", query, "-k", "4")
    assert want["results"][0]["id"] in table and "score" in table

    got = json.loads(ok("trends", "--window", "7d", "--baseline", "30d", "--json"))
    want = http.get(f"{BASE}/trends", params={"window": "7d", "baseline": "30d"}, timeout=300).json()
    assert [t["topic"] for t in got["trending"]] == [t["topic"] for t in want["trending"]]
    table = ok("trends", "--window", "7d", "--baseline", "30d", "--all")
    assert all(t["topic"] in table for t in want["topics"] if not t["candidate"])
    assert any(ch in table for ch in "▁▂▃▄▅▆▇█")  # the sparkline column

    text = "The duke paid for a bronze statue of himself."
    got = json.loads(ok("topics", text, "--json"))
    want = post(http, "/topics", {"texts": [text]})
    assert [t["label"] for t in got["results"][0]["topics"]] == [t["label"] for t in want["results"][0]["topics"]]
    assert want["results"][0]["topics"][0]["label"] in ok("topics", text)


def test_evaluate_through_the_service(http, deployed, tmp_path):
    items = [
        {"text": "A marble bust of the cardinal.", "human_topics": ["sculpture"]},
        {"text": "The architect designed the dome of the church.", "label": "architecture"},
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    table = ok("evaluate", str(path))
    assert "## Vibe check" in table and "A marble bust of the cardinal." in table
    got = json.loads(ok("evaluate", str(path), "--json"))
    want = post(http, "/evaluate", {"items": items})
    assert got["mean_best_match_cosine"] == pytest.approx(want["mean_best_match_cosine"])
    assert [i["model_topics"] for i in got["items"]] == [i["model_topics"] for i in want["items"]]


def test_a_4xx_exits_2_naming_the_field_and_stores_nothing_of_the_batch(http, deployed, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"id": "cli-bad-ok", "text": "A fine document about a fresco.", "timestamp": NOW.isoformat()})
        + "\n\n"
        + json.dumps({"id": "cli-bad-blank", "text": "   ", "timestamp": NOW.isoformat()})
        + "\n"
    )
    out = cli("ingest", str(path))
    assert out.returncode == 2, out.stderr
    assert "documents.1.text" in out.stderr and f"{path} line 3" in out.stderr
    assert "0 documents were ingested before this batch" in out.stderr
    assert http.get(f"{BASE}/documents/cli-bad-ok").status_code == 404  # the batch stored nothing

    out = cli("search", "anything", "-k", "1000")
    assert out.returncode == 2 and "(field: k)" in out.stderr, out.stderr
