"""`python -m topicserve backfill` on the tests' Ray: Ray Data reads a directory of JSONL and Parquet,
embeds on an actor pool, and commits through the deployed app's State; a run resumes (skips stored
ids). And the model upgrade: a second embedding model on the same table is refused naming both
models; on a new table it serves (empty: /search and /trends answer 200 with nothing), and
`backfill --from-store` re-embeds the old table into it. (The same-dimension case, another model of
384 dimensions, is refused by the same guard: tests/unit/api/test_api_inprocess.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests

from tests.e2e.conftest import BASE, REQUEST_TIMEOUT_S, ROOT, local_config
from tests.e2e.raycluster import POLL_S
from tests.support.small_model import DIM
from topicserve.settings import DEFAULT_MODEL

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


def backfill(local_ray, *source: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "topicserve",
            "backfill",
            *source,
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


@pytest.fixture(scope="module", autouse=True)
def small_model(tmp_path_factory):
    """The small model of the upgrade test (last in this module), built from the module's start by a
    process of its own beside the backfill runs (which mostly wait on Ray), at Ray's workers' nice 15
    so that it shares the CPUs with them rather than taking them first; yields its path once built."""
    out = tmp_path_factory.mktemp("small") / "small-model"
    code = "import sys, pathlib, tests.support.small_model as m; m.build_small_model(pathlib.Path(sys.argv[1]))"
    nice = ["nice", "-n", "15"] if shutil.which("nice") else []
    log = out.parent / "build.log"
    with open(log, "w") as fh:
        build = subprocess.Popen([*nice, sys.executable, "-c", code, str(out)], cwd=ROOT, stdout=fh, stderr=fh)

    def built() -> Path:
        assert build.wait(timeout=600) == 0, f"building the small model failed:\n{log.read_text()}"
        return out

    yield built
    if build.poll() is None:
        build.kill()
        build.wait()


def test_backfill_commits_through_the_service_and_resumes(deployed, tmp_path):
    local_ray, _ = deployed
    jsonl, parquet = docs("j", 24), docs("p", 8)
    # An interrupted load: the first half of the JSONL is stored already. (Stored over HTTP, not by
    # a first backfill run: what a run skips is whatever the store holds, and each run is ~30-45 s
    # of Ray Data start-up on the tests' 2 cores, where these 12 documents take a second.)
    first = requests.post(f"{BASE}/documents", json={"documents": jsonl[:12]}, timeout=120)
    assert first.status_code == 200, first.text

    # The whole JSONL file beside a Parquet file, in one directory: resumes after the first 12.
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(d) + "\n" for d in jsonl))
    rows = [{"id": d["id"], "text": d["text"], "timestamp": d["timestamp"], "n": i} for i, d in enumerate(parquet)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "b.parquet")  # the extra column n goes into metadata
    second = backfill(local_ray, str(tmp_path), "--stats", str(tmp_path / "stats.json"))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "backfill: 20 documents committed" in second.stdout  # 12 JSONL + 8 Parquet; 12 skipped
    stats = json.loads((tmp_path / "stats.json").read_text())  # where the time went (bench/backfill.py)
    assert stats["documents"] == 20 and "EmbedBatch" in stats["ray_data"]
    assert {"startup_s", "wait_s", "topics_s", "commit_s"} <= stats.keys()
    from_parquet = requests.get(f"{BASE}/documents/{parquet[3]['id']}", timeout=REQUEST_TIMEOUT_S).json()
    assert from_parquet["text"] == parquet[3]["text"] and from_parquet["metadata"] == {"n": 3}

    got = requests.get(f"{BASE}/documents/{jsonl[17]['id']}", timeout=REQUEST_TIMEOUT_S).json()  # backfilled
    assert got["text"] == jsonl[17]["text"] and got["metadata"] == {"n": 17}
    assert got["timestamp"].startswith("2026-03-01")
    # The same topics the service gives the same text over HTTP.
    http = requests.post(
        f"{BASE}/documents", json={"documents": [{"id": f"bf-{RUN}-http", "text": jsonl[17]["text"]}]}, timeout=120
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
    out = backfill(local_ray, str(tmp_path / "bad.jsonl"))
    assert out.returncode != 0
    assert bad[1]["id"] in out.stderr and "timestamp" in out.stderr
    assert requests.get(f"{BASE}/documents/{bad[0]['id']}", timeout=REQUEST_TIMEOUT_S).status_code == 404


def _wait_for(ray, app: str, status: str, check=lambda: True, timeout: float = 600) -> dict:
    """Poll until ``app`` has ``status`` and ``check()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ray.status().get("applications", {}).get(app, {})
        if found.get("status") == status and check():
            return found
        time.sleep(POLL_S)
    raise AssertionError(f"{app} not {status} after {timeout}s: {ray.status_messages(app)}")


def _readyz(prefix: str = "") -> dict:
    try:
        return requests.get(f"{BASE}{prefix}/readyz", timeout=10).json()
    except (requests.RequestException, ValueError):
        return {}


def _with_small_app(config: dict, model: str, table: str | None = None) -> dict:
    """The tests' config plus a second application, SMALL at /small: the small model on the same
    storage, each deployment at 0.01 CPU (the first app holds the test cluster's CPUs).

    ``table``: TOPICSERVE_STORE_TABLE for the deployments it concerns, State (which opens the table)
    and Ingress (whose start checks the Embedder's space against it), in their own env vars. Serve
    adds those to the app's, and a change there restarts those two alone; docs/store.md sets it on
    the app, which is the same setting but restarts the Embedder and Topics replicas too (~15 s more
    here, the Embedder's model load last)."""
    import copy

    small = copy.deepcopy(config["applications"][0])
    small.update(name=SMALL, route_prefix="/small")
    # No model copy in its Ingress (its queries go to its Embedder): nothing here looks at where a
    # query is embedded, and the copy's background load competes with the deploy for the CPUs.
    small["runtime_env"]["env_vars"].update(TOPICSERVE_EMBEDDING_MODEL=model, TOPICSERVE_INGRESS_EMBED_MAX_TEXTS="0")
    for deployment in small["deployments"]:
        deployment.pop("autoscaling_config", None)
        deployment.update(num_replicas=1, ray_actor_options={"num_cpus": 0.01, "num_gpus": 0})
        if table and deployment["name"] in ("State", "Ingress"):
            deployment["ray_actor_options"]["runtime_env"] = {"env_vars": {"TOPICSERVE_STORE_TABLE": table}}
    return {**config, "applications": [config["applications"][0], small]}


SMALL = "topicserve-small"


def test_a_second_model_is_refused_on_the_old_table_and_upgrades_into_a_new_one(deployed, app_zip, small_model):
    """The upgrade as docs/store.md describes it, with the new model as a second application so the
    first one never restarts (and keeps serving throughout)."""
    local_ray, storage = deployed
    old = docs("up", 4)
    assert requests.post(f"{BASE}/documents", json={"documents": old}, timeout=120).status_code == 200
    before = _readyz()["state"]
    model = str(small_model())  # 64-dim: another embedding space
    base = local_config(app_zip, storage)
    try:
        # The old table, another model: that application fails naming both spaces; nothing is mixed.
        local_ray.deploy(_with_small_app(base, model))
        _wait_for(local_ray, SMALL, "DEPLOY_FAILED")
        message = local_ray.status_messages(SMALL)
        assert "embedding space mismatch" in message and "'documents'" in message
        assert f"{DEFAULT_MODEL} (384-dim" in message and f"small-model ({DIM}-dim" in message
        assert "--from-store" in message  # and says how to upgrade
        assert _readyz("/small").get("status") != "ready"
        assert _readyz()["embedder"]["dim"] == 384  # the first application still serves

        # A new table for the new model: it serves, and backfill re-embeds the old table into it.
        local_ray.deploy(_with_small_app(base, model, table="documents_small"))
        _wait_for(local_ray, SMALL, "RUNNING", lambda: _readyz("/small").get("status") == "ready")
        assert _readyz("/small")["state"]["table"] == "documents_small"
        # An empty store answers /search (every mode) and /trends with 200 and nothing in them.
        for mode in ("vector", "keyword", "hybrid"):
            resp = requests.post(f"{BASE}/small/search", json={"query": "anything at all", "mode": mode}, timeout=60)
            assert resp.status_code == 200 and resp.json()["results"] == [], resp.text
        resp = requests.get(f"{BASE}/small/trends", timeout=60)
        assert resp.status_code == 200 and resp.json()["trending"] == [] and resp.json()["topics"] == [], resp.text
        out = backfill(local_ray, "--from-store", "documents", "--storage-uri", str(storage), "--app", SMALL)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{DEFAULT_MODEL} (384-dim" in out.stdout and f"small-model ({DIM}-dim" in out.stdout
        assert f"backfill: {before['documents']} documents committed" in out.stdout
        moved = requests.get(f"{BASE}/small/documents/{old[1]['id']}", timeout=REQUEST_TIMEOUT_S).json()
        assert moved["text"] == old[1]["text"] and moved["metadata"] == {"n": 1}
        assert moved["timestamp"].startswith("2026-03-01")
        hits = requests.post(f"{BASE}/small/search", json={"query": old[2]["text"], "k": 3}, timeout=60).json()
        assert old[2]["id"] in [h["id"] for h in hits["results"]]  # searchable in the new space
    finally:
        local_ray.deploy(base)  # the second application goes; the first was never touched
    # The old table is as it was: the upgrade only read it.
    assert _readyz()["state"]["documents"] == before["documents"]
    assert _readyz()["embedder"]["dim"] == 384
