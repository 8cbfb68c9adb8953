"""Durability across a replica restart. (The full `ray stop` / start, after which the app deployed
again serves every acknowledged document and its indexes: tests/e2e/test_pinned_deploy.py, whose
netrc deploy is on a head started afresh.)"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.e2e.conftest import APP, BASE, REQUEST_TIMEOUT_S
from tests.e2e.raycluster import POLL_S

pytestmark = pytest.mark.e2e

DOCS = [
    {"id": f"durable-{i}", "text": text}
    for i, text in enumerate(
        [
            "The patron paid for the new chapel and its altarpiece.",
            "A woodcut of the city was printed in 1493.",
            "The museum bought a Roman marble relief at auction.",
        ]
    )
]


def _wait_doc(http, doc_id: str, timeout: float = 300) -> dict:
    """The document, once the store answers for it. While the new State replica starts, a read
    waits in Serve's queue for it; on a slow machine that outlasts any short client timeout, so each
    read waits as long as the server's own request timeout (60 s) and a client timeout is a retry."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            resp = http.get(f"{BASE}/documents/{doc_id}", timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as exc:
            last = type(exc).__name__
            continue
        if resp.status_code == 200:
            return resp.json()
        last = f"{resp.status_code} {resp.text}"
        time.sleep(POLL_S)
    raise AssertionError(f"{doc_id} not back after {timeout}s: {last}")


def test_state_replica_restart_keeps_acknowledged_documents(deployed, http):
    ray, _ = deployed
    assert http.post(f"{BASE}/documents", json={"documents": DOCS}, timeout=120).status_code == 200
    old_pid = ray.replica_pid(APP, "State")
    os.kill(old_pid, signal.SIGKILL)  # the single writer dies; Serve starts a new replica
    for doc in DOCS:
        assert _wait_doc(http, doc["id"])["text"] == doc["text"]
    assert ray.replica_pid(APP, "State") != old_pid
