"""The OpenAI-compatible LLM backend against a loopback chat-completions server (real HTTP, real model)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests.support.app import serve
from tests.support.chat import ChatServer
from tests.support.models import assign as assign_texts
from tests.support.models import embedder
from topicserve.llm.base import LLMConfig, LLMError
from topicserve.llm.openai_http import ChatCompletionsClient
from topicserve.topics import TopicsConfig

TEXT = "The duke commissioned a large oil portrait of his wife for the palace."


@pytest.fixture
def server():
    with ChatServer() as srv:
        yield srv


def llm_config(server, **kw) -> TopicsConfig:
    llm = {"url": server.url, "model": "loopback-model", "timeout_s": 2, "retries": 1, "backoff_s": 0.01, **kw}
    return TopicsConfig(backend="openai", llm=llm)


def assign(config: TopicsConfig, texts=(TEXT,)):
    return assign_texts(config, texts)


def test_labels_are_snapped_to_the_taxonomy_and_off_domain_ones_become_candidates(server):
    server.script = [
        ("reply", 'Here you go:\n```json\n["oil painting", "Patronage", "Renaissance", "literature"]\n```')
    ]
    out = assign(llm_config(server))
    result = out.results[0]
    assert not out.degraded and out.fallback_reason is None
    assert out.prompt == "topics-v1" and out.backend == "llm:openai:loopback-model"
    assert result.source == "llm"
    assert [t.label for t in result.topics] == ["painting", "patronage"]
    assert result.topics[1].score == 1.0  # exact taxonomy label
    assert {c.label for c in result.candidates} == {"Renaissance", "literature"}
    # the request was a chat completion carrying the prompt and the taxonomy
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["json"]["model"] == "loopback-model"
    assert TEXT in sent["json"]["messages"][-1]["content"]
    assert "acquisitions and provenance" in sent["json"]["messages"][-1]["content"]


def test_malformed_reply_degrades_to_the_taxonomy_backend(server):
    server.script = [("reply", "I think this is about art, probably.")]
    out = assign(llm_config(server))
    assert out.degraded
    assert "no JSON list" in out.fallback_reason
    assert out.results[0].source == "zeroshot-fallback"
    assert out.results[0].topics[0].label in {"patronage", "painting"}  # the zero-shot answer, not nothing


def test_reply_without_choices_degrades(server):
    server.script = [("raw", '{"object": "error"}')]
    out = assign(llm_config(server))
    assert out.degraded and "choices" in out.fallback_reason


def test_a_500_is_retried(server):
    server.script = [("status", 500), ("reply", '["sculpture"]')]
    out = assign(llm_config(server))
    assert not out.degraded
    assert [t.label for t in out.results[0].topics] == ["sculpture"]
    assert len(server.requests) == 2


def test_persistent_500_degrades_after_the_retries(server):
    server.script = [("status", 503)]
    out = assign(llm_config(server, retries=2))
    assert out.degraded and "HTTP 503" in out.fallback_reason and "3 attempt" in out.fallback_reason
    assert len(server.requests) == 3


def test_a_400_is_not_retried(server):
    server.script = [("status", 400)]
    out = assign(llm_config(server, retries=3))
    assert out.degraded and "HTTP 400" in out.fallback_reason
    assert len(server.requests) == 1


def test_timeout_degrades(server):
    server.script = [("sleep", 2.0, '["painting"]')]
    out = assign(llm_config(server, timeout_s=0.3, retries=0))
    assert out.degraded and "timed out" in out.fallback_reason


def test_unreachable_endpoint_degrades():
    config = TopicsConfig(backend="openai", llm={"url": "http://127.0.0.1:9/v1", "retries": 0, "timeout_s": 2})
    out = assign(config)
    assert out.degraded and "connection failed" in out.fallback_reason
    assert out.results[0].topics  # still answered, from the taxonomy


def test_only_failed_texts_fall_back(server):
    server.script = [lambda body: '["painting"]' if TEXT in body["messages"][-1]["content"] else "no idea"]
    out = assign(llm_config(server, concurrency=1), texts=(TEXT, "The museum changed its opening hours."))
    assert [r.source for r in out.results] == ["llm", "zeroshot-fallback"]
    assert out.degraded and out.fallback_reason.startswith("1/2 texts")


def test_api_key_comes_from_the_environment_and_never_shows(server, monkeypatch):
    key = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("TEST_LLM_KEY", key)
    client = ChatCompletionsClient(LLMConfig(url=server.url, api_key_env="TEST_LLM_KEY", retries=0))
    server.script = [("status", 401)]
    with pytest.raises(LLMError) as info:
        asyncio.run(client.chat([{"role": "user", "content": "hi"}], max_tokens=5, temperature=0))
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {key}"
    assert key not in info.value.message


def test_topics_endpoint_reports_prompt_and_never_500s_when_the_llm_fails(server, tmp_path):
    server.script = [("status", 500)]
    with serve(tmp_path / "store", embedder(), topics=llm_config(server, retries=0)) as (_, http):
        resp = http.post("/topics", json={"texts": [TEXT]})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["degraded"] is True and "HTTP 500" in body["fallback_reason"]
        assert body["prompt"] == "topics-v1"
        assert body["results"][0]["topics"] and body["results"][0]["source"] == "zeroshot-fallback"
        server.script = [("reply", '["sculpture", "ceramics glazes"]')]
        ok = http.post("/topics", json={"texts": [TEXT]}).json()
        assert ok["degraded"] is False and ok["results"][0]["source"] == "llm"
