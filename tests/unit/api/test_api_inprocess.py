"""The HTTP API without Ray: the same FastAPI app over in-process embedder, topics and store."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from tests.support.app import serve
from topicserve.api import build_app
from topicserve.errors import ModelMismatch
from topicserve.inprocess import build_gateway
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore


@pytest.fixture
def client(embedder, tmp_path):
    with serve(tmp_path, embedder) as (_, c):
        yield c


def test_ingest_then_search_round_trip(client):
    docs = [
        {"id": "a", "text": "Restorers removed the yellow varnish from the altarpiece."},
        {"id": "b", "text": "The architect drew the plans for the palace facade."},
    ]
    assert client.post("/documents", json={"documents": docs}).json()["ingested"] == 2
    hits = client.post("/search", json={"query": "building design", "k": 2}).json()["results"]
    assert [h["id"] for h in hits] == ["b", "a"]


def test_readyz_reports_models_and_store(client):
    body = client.get("/readyz").json()
    assert body["embedder"]["dim"] == 384 and body["state"]["documents"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": " "}, "query"),
        ({"query": "x", "k": "ten"}, "k"),
        ({"query": "x", "since": "2026-02-30"}, "since"),
        ({"query": "x", "extra": 1}, "extra"),
        ({"query": "x", "since": "2026-02-02T00:00:00Z", "until": "2026-02-01T00:00:00Z"}, "until"),
    ],
)
def test_search_validation(client, body, field):
    resp = client.post("/search", json=body)
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == field


def test_duplicate_ids_in_one_batch_are_rejected(client):
    resp = client.post("/documents", json={"documents": [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]})
    assert resp.status_code == 422 and "duplicate id" in resp.json()["error"]["message"]


def test_startup_refuses_a_store_of_another_space(embedder, tmp_path):
    DocumentStore(str(tmp_path)).bind(EmbeddingSpace(model="intfloat/e5-small", dim=384))
    gateway = build_gateway(str(tmp_path), embedder=embedder)
    with pytest.raises(ModelMismatch, match=r"intfloat/e5-small.*all-MiniLM-L6-v2"):
        asyncio.run(gateway.startup())
    resp = TestClient(build_app(gateway)).get("/readyz")
    assert resp.status_code == 503


def test_unknown_route_and_method_use_the_error_format(client):
    resp = client.get("/no-such-route")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    resp = client.get("/search")
    assert resp.status_code == 405 and resp.json()["error"]["type"] == "method_not_allowed"
    assert "POST" in resp.headers["allow"]


def test_stored_topics_keep_their_confidence(client):
    doc = {
        "id": "conf-1",
        "text": "Restorers removed the yellow varnish from the altarpiece.",
        "timestamp": "2026-03-01T10:00:00Z",
    }
    ingested = client.post("/documents", json={"documents": [doc]}).json()["documents"][0]["topics"]
    stored = client.get("/documents/conf-1").json()["topics"]
    assert stored == ingested and stored and all(0.0 <= t["confidence"] <= 1.0 for t in stored)
