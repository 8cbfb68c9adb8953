"""A second embedding model against a store built with the first, Ray-free, with two real models.

On the old table the new model is refused, naming both models and dimensions; on a table of its
own (TOPICSERVE_STORE_TABLE) it serves while the old table stays as it was, readable, and the old
model still serves it (the rollback).
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from tests.support.small_model import DIM, build_small_model
from topicserve.api import build_app
from topicserve.embedding import Embedder
from topicserve.errors import ModelMismatch
from topicserve.inprocess import build_gateway
from topicserve.settings import DEFAULT_MODEL, Settings
from topicserve.store import DocumentStore

DOCS = [
    {"id": "old-1", "text": "Restorers removed the yellow varnish from the altarpiece."},
    {"id": "old-2", "text": "The architect drew the plans for the palace facade."},
]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Embedder:
    path = build_small_model(tmp_path_factory.mktemp("models") / "small-model")
    return Embedder(str(path), "cpu")


@pytest.fixture
def old_store(embedder, tmp_path):
    """A store built with MiniLM, holding two documents."""
    gateway = build_gateway(str(tmp_path), embedder=embedder)
    asyncio.run(gateway.startup())
    with TestClient(build_app(gateway)) as client:
        assert client.post("/documents", json={"documents": DOCS}).status_code == 200
    return tmp_path


def test_the_small_model_is_another_space(small, embedder):
    assert small.space.dim == DIM and embedder.space.dim == 384
    assert small.space.describe().startswith(f"small-model ({DIM}-dim")  # its directory's name, not its path
    assert not embedder.space.compatible(small.space)


def test_a_second_model_on_the_old_table_is_refused_naming_both(old_store, small):
    gateway = build_gateway(str(old_store), embedder=small)
    with pytest.raises(ModelMismatch) as err:
        asyncio.run(gateway.startup())
    message = err.value.message
    assert f"{DEFAULT_MODEL} (384-dim" in message and f"small-model ({DIM}-dim" in message
    assert "'documents'" in message and "TOPICSERVE_STORE_TABLE" in message and "--from-store" in message
    assert str(old_store) not in message and "/" not in err.value.details["request_space"]["model"]
    assert err.value.details["store_space"]["dim"] == 384 and err.value.details["request_space"]["dim"] == DIM
    body = TestClient(build_app(gateway)).get("/readyz")
    assert body.status_code == 503
    # Nor can the store be written or searched with the new model's vectors, whoever asks.
    store = DocumentStore(str(old_store), background=False)
    with pytest.raises(ModelMismatch, match="small-model"):
        store.search(small.embed(["palace"])[0], small.space)
    assert len(store) == len(DOCS)


def test_a_new_table_serves_the_new_model_and_the_old_one_stays(old_store, small, embedder, monkeypatch):
    monkeypatch.setenv("TOPICSERVE_STORE_TABLE", "documents_small")
    from topicserve.settings import get_settings

    get_settings.cache_clear()
    gateway = build_gateway(str(old_store), embedder=small)
    asyncio.run(gateway.startup())
    with TestClient(build_app(gateway)) as client:
        ready = client.get("/readyz").json()
        assert ready["state"]["table"] == "documents_small" and ready["state"]["documents"] == 0
        assert ready["embedder"]["dim"] == DIM
        new = [{"id": "new-1", "text": "A bronze statue of a rider."}]
        assert client.post("/documents", json={"documents": new}).status_code == 200
        hits = client.post("/search", json={"query": "bronze rider", "k": 5}).json()["results"]
        assert [h["id"] for h in hits] == ["new-1"]  # only the new table's documents

    old = DocumentStore(str(old_store), table="documents", background=False)
    assert old.space is not None and old.space.model == DEFAULT_MODEL and len(old) == len(DOCS)
    monkeypatch.delenv("TOPICSERVE_STORE_TABLE")
    get_settings.cache_clear()
    rollback = build_gateway(str(old_store), embedder=embedder)  # the old model on the old table
    asyncio.run(rollback.startup())
    with TestClient(build_app(rollback)) as client:
        hits = client.post("/search", json={"query": "building design", "k": 2}).json()["results"]
        assert [h["id"] for h in hits] == ["old-2", "old-1"]


@pytest.mark.parametrize("name", ["", "../other", "a/b", "x" * 200, "name with spaces"])
def test_a_table_name_is_a_plain_name(name, monkeypatch):
    monkeypatch.setenv("TOPICSERVE_STORE_TABLE", name)
    with pytest.raises(ValueError, match="store_table"):
        Settings()
