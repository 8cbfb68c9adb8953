"""The bad-input table (tests/bad_inputs.py) against the in-process app, with an API key set.

The real model and a real store in a temporary directory: every case must answer its status in the
one error shape, name its field, leak nothing and leave the document count unchanged.
"""

from __future__ import annotations

import pytest

from tests.bad_inputs import API_KEY, BODY_LIMIT, CASES, check_response
from tests.support.app import serve
from topicserve.settings import Settings

AUTH = {"Authorization": f"Bearer {API_KEY}"}
SEED = [{"id": "seed-1", "text": "Restorers cleaned the fresco.", "timestamp": "2026-03-01T10:00:00Z"}]


@pytest.fixture(scope="module")
def app(embedder, tmp_path_factory):
    storage = tmp_path_factory.mktemp("bad-inputs-store")
    settings = Settings(api_key=API_KEY, max_body_bytes=BODY_LIMIT)
    with serve(storage, embedder, settings, raise_server_exceptions=False) as (_, client):
        assert client.post("/documents", json={"documents": SEED}, headers=AUTH).status_code == 200
        yield client, str(storage)


def documents(client) -> int:
    return client.get("/readyz").json()["state"]["documents"]


def test_the_table_is_large_enough():
    assert len(CASES) >= 150
    assert {c.path.split("/")[1] for c in CASES} >= {"documents", "search", "topics", "trends", "v1", "evaluate"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(app, case):
    client, storage = app
    before = documents(client)
    resp = client.request(case.method, case.path, **case.request_kwargs("content"))
    check_response(case, resp.status_code, resp.headers, resp.text, forbidden=[storage])
    assert documents(client) == before, f"{case.name}: something was written"
