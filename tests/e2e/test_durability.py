"""Acknowledged means durable: a client streams batches of unique ids while a replica is SIGKILLed.

After recovery no acknowledged document is missing, and every failed batch got a JSON error (no
hang past the 60 s request timeout). Runs on the modules' shared deployment and store (ids of this
run only); an empty store's answers are tested at the model upgrade (tests/e2e/test_backfill.py).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid

import pytest
import requests

from tests.e2e.conftest import APP, BASE
from tests.e2e.raycluster import POLL_S

pytestmark = pytest.mark.e2e

BATCHES = 24
PER_BATCH = 4
KILL_AFTER = 6  # batches acknowledged before the kill


RUN = uuid.uuid4().hex[:8]  # the store holds other modules' documents


@pytest.fixture(scope="module")
def fresh(deployed):
    """The shared deployment (a deploy of a store of its own cost ~45 s of model loading)."""
    local_ray, _ = deployed
    with requests.Session() as session:
        yield local_ray, session


def stream(session, prefix: str, killed: threading.Event, kill) -> tuple[list[str], list[dict]]:
    """Send BATCHES batches one after another; kill the replica after KILL_AFTER acknowledged ones."""
    acked, failed = [], []
    for b in range(BATCHES):
        ids = [f"{prefix}-{b}-{i}" for i in range(PER_BATCH)]
        docs = [{"id": i, "text": f"Batch {b}: the museum catalogued object {i} from the new collection."} for i in ids]
        try:
            resp = session.post(f"{BASE}/documents", json={"documents": docs}, timeout=60)
        except requests.RequestException as exc:  # no answer within 60 s: the test fails below
            failed.append({"batch": b, "status": None, "body": type(exc).__name__})
            continue
        if resp.status_code == 200:
            acked += ids
        else:
            failed.append({"batch": b, "status": resp.status_code, "body": resp.text})
        if b + 1 == KILL_AFTER and not killed.is_set():
            kill()
            killed.set()
    return acked, failed


def wait_ready(session, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if session.get(f"{BASE}/readyz", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(POLL_S)
    raise AssertionError(f"not ready {timeout}s after the kill")


def stored_ids(session, prefix: str) -> set[str]:
    found, cursor = set(), None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = session.get(f"{BASE}/documents", params=params, timeout=60).json()
        found |= {d["id"] for d in page["documents"] if d["id"].startswith(prefix)}
        cursor = page["next_cursor"]
        if cursor is None:
            return found


@pytest.mark.parametrize("deployment", ["State", "Embedder"])
def test_no_acknowledged_document_is_lost_when_a_replica_is_killed(fresh, deployment):
    ray, session = fresh
    old_pid = ray.replica_pid(APP, deployment)
    killed = threading.Event()
    acked, failed = stream(session, f"{deployment.lower()}-{RUN}", killed, lambda: os.kill(old_pid, signal.SIGKILL))
    assert killed.is_set() and len(acked) >= KILL_AFTER * PER_BATCH
    for f in failed:  # a JSON error, never a hang or an HTML page
        assert f["status"] is not None, f"batch {f['batch']} got no answer within 60 s: {f['body']}"
        assert "error" in json.loads(f["body"]), f
    wait_ready(session)
    missing = set(acked) - stored_ids(session, f"{deployment.lower()}-{RUN}")
    assert not missing, f"{len(missing)} acknowledged documents lost after killing {deployment}: {sorted(missing)[:5]}"
    assert ray.replica_pid(APP, deployment) != old_pid
