"""Overload and slow backends answer in the JSON error format, never by hanging or in plain text.

Shape only, never timing (speed lives in bench/overload.py): with a small admission limit
(``TOPICSERVE_MAX_TEXTS_IN_FLIGHT``), concurrent requests that together exceed it are either served
(200) or refused at once with 503 ``overloaded`` + ``Retry-After``; with a short handle deadline
(``TOPICSERVE_HANDLE_TIMEOUT_S``), a request whose embedding outlasts it answers 504 ``timeout``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import BASE, NO_INGRESS_COPY, deploy_app
from tests.e2e.raycluster import POLL_S

pytestmark = pytest.mark.e2e

TEXTS = [f"A restorer cleaned the varnish of painting number {i} in the museum workshop." for i in range(64)]


def concurrent_posts(bodies: list[dict]) -> list[requests.Response]:
    """POST all bodies to /v1/embeddings at the same moment (a barrier, not a sleep)."""
    barrier = threading.Barrier(len(bodies))

    def post(body: dict) -> requests.Response:
        barrier.wait()
        return requests.post(f"{BASE}/v1/embeddings", json=body, timeout=300)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def assert_json_error(resp: requests.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["content-type"].startswith("application/json"), resp.text[:300]
    error = resp.json()["error"]
    assert error["code"] == code and error["message"] and "field" in error
    return error


@pytest.fixture(scope="module")
def small_admission(local_ray, app_zip, storage):
    # 64 units: each request below is exactly that, so two can never be in flight together.
    deploy_app(local_ray, app_zip, storage, ingress={**NO_INGRESS_COPY, "TOPICSERVE_MAX_TEXTS_IN_FLIGHT": "64"})


def test_requests_over_the_admission_limit_get_a_json_503_with_retry_after(small_admission):
    responses = concurrent_posts([{"input": TEXTS}] * 8)
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses and 503 in statuses, statuses
    for resp in responses:
        if resp.status_code == 503:
            assert_json_error(resp, 503, "overloaded")
            assert int(resp.headers["retry-after"]) >= 1
        else:
            assert len(resp.json()["data"]) == len(TEXTS)
    # Nothing was left stuck: the limit is free again once the burst is answered.
    after = requests.post(f"{BASE}/v1/embeddings", json={"input": TEXTS[:2]}, timeout=120)
    assert after.status_code == 200, after.text[:300]


def test_a_request_longer_than_the_handle_deadline_gets_a_json_504(local_ray, app_zip, storage):
    deploy_app(local_ray, app_zip, storage, ingress={**NO_INGRESS_COPY, "TOPICSERVE_HANDLE_TIMEOUT_S": "1"})
    long_text = " ".join(TEXTS) * 8  # ~40,000 characters: dozens of model windows per text
    # 5 of them: ~200,000 characters, under the per-request text budget (250,000) and the tests'
    # 1 MiB body limit; some 200 model windows, far more than 1 s of embedding.
    resp = requests.post(f"{BASE}/v1/embeddings", json={"input": [long_text] * 5}, timeout=300)
    error = assert_json_error(resp, 504, "timeout")
    assert "Embedder" in error["message"]
    # The abandoned model call still runs to its end (torch cannot be interrupted), so small
    # requests time out too for a while, in JSON; then the replica serves again, not restarted.
    for _ in range(240):  # up to 2 min of pauses
        ok = requests.post(f"{BASE}/v1/embeddings", json={"input": TEXTS[:1]}, timeout=120)
        if ok.status_code == 200:
            break
        assert_json_error(ok, ok.status_code, "timeout" if ok.status_code == 504 else "overloaded")
        time.sleep(POLL_S)
    assert ok.status_code == 200, ok.text[:300]
