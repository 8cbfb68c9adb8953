"""The bad-input table (tests/bad_inputs.py) against the deployed app, with an API key set.

One deployment for the module (the Ingress redeployed with ``TOPICSERVE_API_KEY``), one request per case,
and a /readyz after each case that could write, so the ~240 cases stay cheap.
"""

from __future__ import annotations

import pytest
import requests

from tests.bad_inputs import API_KEY, CASES, check_response
from tests.e2e.conftest import BASE, NO_INGRESS_COPY, deploy_app

pytestmark = pytest.mark.e2e
WRITES = {"/documents", "/evaluate"}


@pytest.fixture(scope="module")
def keyed(local_ray, app_zip, storage):
    """The app RUNNING with an API key; a session that counts the stored documents."""
    deploy_app(local_ray, app_zip, storage, ingress={**NO_INGRESS_COPY, "TOPICSERVE_API_KEY": API_KEY})
    session = requests.Session()
    yield session, str(storage)
    session.close()


def documents(session: requests.Session) -> int:
    resp = session.get(f"{BASE}/readyz", timeout=60)  # open without a key, like /healthz
    assert resp.status_code == 200, resp.text
    return resp.json()["state"]["documents"]


@pytest.fixture(scope="module")
def baseline(keyed) -> int:
    return documents(keyed[0])


def test_the_key_is_required(keyed):
    session, _ = keyed
    assert session.post(f"{BASE}/search", json={"query": "art"}, timeout=60).status_code == 401
    ok = session.post(f"{BASE}/topics", json={"texts": ["a statue"]}, headers={"Authorization": f"Bearer {API_KEY}"})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(keyed, baseline, case):
    session, storage = keyed
    resp = session.request(case.method, f"{BASE}{case.path}", timeout=120, **case.request_kwargs("data"))
    check_response(case, resp.status_code, resp.headers, resp.text, forbidden=[storage])
    if case.path in WRITES or case.path.startswith("/documents"):
        assert documents(session) == baseline, f"{case.name}: something was written"


def test_request_id_round_trip(keyed):
    session, _ = keyed
    resp = session.post(f"{BASE}/search", json={"query": "art", "k": True}, headers={"X-Request-ID": "e2e-rid-7"})
    assert resp.status_code == 401  # no key: still an id, in the header (Serve's proxy) and in the body
    assert resp.headers["x-request-id"] == "e2e-rid-7" and resp.json()["error"]["request_id"] == "e2e-rid-7"
