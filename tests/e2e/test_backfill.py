"""`python -m topicserve backfill` on the tests' Ray: Ray Data reads JSONL, embeds on an actor pool,
and commits through the deployed app's State; a second run resumes (skips stored ids).
Parquet input is covered by tests/unit/test_backfill_parse.py only: on this 2-CPU cluster a run
over a directory of JSONL + Parquet stalled on a 1-CPU demand (see the report of issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
import requests

from tests.e2e.conftest import BASE, ROOT

pytestmark = pytest.mark.e2e
RUN = uuid.uuid4().hex[:8]
SUBJECTS = [
    "an oil painting of the harbour",
    "a bronze statue of a rider",
    "restoring a chapel fresco",
    "a gothic cathedral",
]


def docs(prefix: str, n: int) -> list[dict]:
    return [
        {
            "id": f"bf-{RUN}-{prefix}-{i}",
            "text": f"Document {i}: {SUBJECTS[i % 4]}.",
            "timestamp": "2026-03-01T10:00:00Z",
            "metadata": {"n": i},
        }
        for i in range(n)
    ]


def backfill(local_ray, path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "topicserve",
            "backfill",
            str(path),
            "--address",
            local_ray.head.gcs_address,
            "--batch-size",
            "16",
            "--commit-size",
            "16",
            "--quiet",
            "--num-cpus",  # the tests' 2-CPU cluster: the deployed app holds all but ~0.15 of them
            "0.05",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **local_ray.client_env(), "HF_HUB_OFFLINE": "1"},
    )


def test_backfill_commits_through_the_service_and_resumes(deployed, tmp_path):
    local_ray, _ = deployed
    jsonl = docs("j", 24)
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(d) + "\n" for d in jsonl[:12]))
    first = backfill(local_ray, tmp_path / "a.jsonl")  # half the JSONL: an interrupted run
    assert first.returncode == 0, first.stdout + first.stderr
    assert "backfill: 12 documents committed" in first.stdout

    (tmp_path / "a.jsonl").write_text("".join(json.dumps(d) + "\n" for d in jsonl))
    second = backfill(local_ray, tmp_path / "a.jsonl")  # the whole file: resumes after the first 12
    assert second.returncode == 0, second.stdout + second.stderr
    assert "backfill: 12 documents committed" in second.stdout  # the 12 already stored were skipped

    got = requests.get(f"{BASE}/documents/{jsonl[5]['id']}", timeout=30).json()
    assert got["text"] == jsonl[5]["text"] and got["metadata"] == {"n": 5} and got["timestamp"].startswith("2026-03-01")
    # The same topics the service gives the same text over HTTP.
    http = requests.post(
        f"{BASE}/documents", json={"documents": [{"id": f"bf-{RUN}-http", "text": jsonl[5]["text"]}]}, timeout=120
    ).json()
    assert [t["label"] for t in got["topics"]] == [t["label"] for t in http["documents"][0]["topics"]]
    # And the backfilled documents are searchable like any other.
    hits = requests.post(f"{BASE}/search", json={"query": "bronze rider statue", "k": 5}, timeout=60).json()["results"]
    assert any(h["id"].startswith(f"bf-{RUN}-") and "bronze" in h["text"] for h in hits)


def test_a_bad_record_fails_the_run_naming_it_and_commits_nothing_of_its_batch(deployed, tmp_path):
    local_ray, _ = deployed
    bad = docs("bad", 3)
    bad[1]["timestamp"] = "yesterday"
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(d) + "\n" for d in bad))
    out = backfill(local_ray, tmp_path / "bad.jsonl")
    assert out.returncode != 0
    assert bad[1]["id"] in out.stderr and "timestamp" in out.stderr
    assert requests.get(f"{BASE}/documents/{bad[0]['id']}", timeout=30).status_code == 404
