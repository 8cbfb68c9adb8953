"""What a caller may send and what they get back: ids, overrides, auth, CORS, request ids, /readyz."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support.app import started_gateway
from topicserve.api import build_app
from topicserve.llm.base import LLMConfig
from topicserve.settings import Settings
from topicserve.topics import LabelVectors, TopicModel, TopicsConfig, TopicsOverride

KEY = "unit-test-key-0451"


@pytest.fixture(scope="module")
def gateway(embedder, tmp_path_factory):
    storage = tmp_path_factory.mktemp("surface-store")
    gw = started_gateway(storage, embedder)
    gw.storage = str(storage)
    return gw


@pytest.fixture(scope="module")
def client(gateway):
    with TestClient(build_app(gateway, Settings()), raise_server_exceptions=False) as c:
        yield c


ODD_IDS = ["a.b_c:d@e~f-g", "...a", ".hidden", "x..y", "~", "@", "a:b", "-", "_", "A" * 256, "2026-03-01T10:00:00Z"]


def test_odd_but_valid_ids_can_be_stored_and_fetched(client):
    docs = [{"id": i, "text": f"Document number {n} about a painted altarpiece."} for n, i in enumerate(ODD_IDS)]
    assert client.post("/documents", json={"documents": docs}).status_code == 200
    for doc_id in ODD_IDS:
        resp = client.get(f"/documents/{doc_id}")
        assert resp.status_code == 200, (doc_id, resp.text)
        assert resp.json()["id"] == doc_id


def test_readyz_shows_no_storage_location(client, gateway):
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert gateway.storage not in resp.text and "storage_uri" not in resp.text
    assert resp.json()["state"]["documents"] >= 0


def test_request_id_is_reused_when_sane_and_replaced_when_not(client, caplog):
    with caplog.at_level(logging.INFO, logger="topicserve.access"):
        resp = client.post("/search", json={"query": "art", "k": True}, headers={"X-Request-ID": "caller-42"})
    assert resp.headers["x-request-id"] == "caller-42" and resp.json()["error"]["request_id"] == "caller-42"
    line = next(r.getMessage() for r in caplog.records if "caller-42" in r.getMessage())
    assert line.startswith("POST /search 422 ") and "ms request_id=caller-42" in line
    for insane in ["x" * 200, "a b", "semi;colon", "<script>", ""]:
        resp = client.get("/healthz", headers={"X-Request-ID": insane})
        assert resp.headers["x-request-id"] != insane and len(resp.headers["x-request-id"]) == 36


def test_every_response_has_a_request_id(client):
    for resp in [client.get("/healthz"), client.get("/nope"), client.post("/topics", json={"texts": ["a statue"]})]:
        assert resp.headers["x-request-id"]


def test_behind_serve_the_app_does_not_add_a_second_header(gateway):
    with TestClient(build_app(gateway, Settings(), behind_serve=True)) as c:
        resp = c.post("/search", json={}, headers={"x-request-id": "from-the-proxy"})
    assert "x-request-id" not in resp.headers  # the Serve proxy adds it
    assert resp.json()["error"]["request_id"] == "from-the-proxy"


def test_api_key_guards_every_route_but_the_probes(gateway):
    with TestClient(build_app(gateway, Settings(api_key=KEY)), raise_server_exceptions=False) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        denied = c.post("/topics", json={"texts": ["a statue"]})
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
        assert denied.headers["www-authenticate"] == "Bearer" and KEY not in denied.text
        ok = c.post("/topics", json={"texts": ["a statue"]}, headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200
        assert c.get("/docs", headers={"Authorization": f"bearer {KEY}"}).status_code == 200


def test_an_empty_api_key_means_no_key():
    assert Settings(api_key="").api_key is None
    assert "secret" not in repr(Settings(api_key="secret"))


def test_cors_is_off_by_default_and_on_for_configured_origins(gateway, client):
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/search", headers=preflight).headers
    with TestClient(build_app(gateway, Settings(cors_origins="https://ui.example, https://b.example"))) as c:
        resp = c.options("/search", headers=preflight)
        assert resp.headers["access-control-allow-origin"] == "https://ui.example"
        other = c.options("/search", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_a_valid_against_is_evaluated_with_the_servers_own_backend(client):
    body = {
        "items": [{"text": "A bronze statue of a horse.", "human_topics": ["animals"]}],
        "against": {"labels": [{"label": "animals"}, {"label": "buildings"}], "threshold": 0.0, "top_k": 1},
    }
    resp = client.post("/evaluate", json=body)
    assert resp.status_code == 200, resp.text
    against = resp.json()["against"]
    assert against["config"]["backend"] == "zeroshot" and against["config"]["labels"] == ["animals", "buildings"]
    assert against["items"][0]["model_topics"][0]["label"] == "animals"


def test_override_keeps_the_servers_backend_and_llm():
    # The server's own prompt may be any file; a call may pick only a tagging prompt (topics-vN).
    base = TopicsConfig(backend="openai", threshold=0.3, llm=LLMConfig(prompt="topics-v0"))
    changed = TopicsOverride(prompt="topics-v1", top_k=1).apply(base)
    assert changed.backend == "openai" and changed.llm.url == base.llm.url and changed.llm.prompt == "topics-v1"
    assert changed.top_k == 1 and changed.threshold == 0.3
    zeroshot = TopicsOverride(prompt="topics-v1").apply(TopicsConfig(llm=LLMConfig(prompt="topics-v0")))
    assert zeroshot.llm.prompt == "topics-v0"  # a prompt is used only by LLM backends
    for other_job in ("cluster-label-v1", "label-expand-v1"):  # shipped, but they do not tag texts
        with pytest.raises(ValueError, match="prompt"):
            TopicsOverride.model_validate({"prompt": other_job})
    with pytest.raises(ValueError, match="Extra inputs"):
        TopicsOverride.model_validate({"llm": {"url": "http://x"}})


def test_label_vectors_are_bounded():
    calls: list[int] = []

    async def embed(texts):
        calls.append(len(texts))
        return np.ones((len(texts), 4), dtype=np.float32)

    cache = LabelVectors(embed, size=3)
    asyncio.run(cache.vectors([f"t{i}" for i in range(10)]))  # more than fit: still answered
    assert len(cache._cache) == 3
    asyncio.run(cache.vectors(["t9"]))
    assert calls == [10]  # the most recent ones stay
    asyncio.run(cache.vectors(["t0"]))
    assert calls == [10, 1]


def test_topic_model_uses_the_bounded_cache(embedder):
    async def embed(texts):
        return await asyncio.to_thread(embedder.embed, texts)

    model = TopicModel(embed)
    assert model.label_vectors._cache.size == Settings().label_cache_size


def test_public_drops_locations_and_secrets():
    from topicserve.gateway import public

    shown = public(
        {
            "state": {"documents": 3, "storage_uri": "s3://user:pw@bucket/x", "index_path": "/data/idx"},
            "embedder": {"model": "/models/my-minilm/", "max_tokens": 256, "hub": "sentence-transformers/x"},
            "note": "see s3://bucket/prefix and token ghp_abcdefghijklmnop",
        }
    )
    assert shown["state"] == {"documents": 3}
    assert shown["embedder"] == {"model": "my-minilm", "max_tokens": 256, "hub": "sentence-transformers/x"}
    assert "ghp_abcdefghijklmnop" not in str(shown)
