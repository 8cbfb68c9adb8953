"""The local transformers LLM backend, with tiny GPT-2 models built in the test (no downloads).

The tokenizer is a word-level `tokenizers` model built from a fixed vocabulary, wrapped in
`PreTrainedTokenizerFast`; the model is a randomly initialised 1-layer GPT-2. One model is left
random (its output is noise, so the backend must degrade); in the other the final layer norm and
the output layer are set so that greedy decoding always emits the token ``["sculpture"]``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.models import embed
from tests.support.tiny_llm import build_tiny_model
from topicserve.llm.base import LLMConfig
from topicserve.llm.local_hf import TransformersChatModel
from topicserve.topics import TopicModel, TopicsConfig

ANSWER = '["sculpture"]'
VOCAB = [ANSWER, "the", "a", "statue", "of", "bronze", "topics", "document", "json"]


@pytest.fixture(scope="module")
def answering_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-answer"), VOCAB, ANSWER)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-random"), VOCAB, None)


def assign(model_path: str, text: str = "the bronze statue of a document"):
    config = TopicsConfig(backend="transformers", llm={"model": model_path, "max_tokens": 3, "device": "cpu"})

    async def run():
        model = TopicModel(embed, config)
        return model, await model.assign_detailed([text], await embed([text]))

    return asyncio.run(run())


def test_generation_runs_greedy_on_cpu(answering_model):
    chat = TransformersChatModel(LLMConfig(model=answering_model, max_tokens=3, device="cpu"))
    assert chat.device == "cpu"
    reply = asyncio.run(chat.chat([{"role": "user", "content": "the statue"}], max_tokens=3, temperature=0))
    assert reply.startswith(ANSWER)


def test_local_model_labels_are_parsed_and_snapped(answering_model):
    model, out = assign(answering_model)
    assert not out.degraded, out.fallback_reason
    assert out.results[0].source == "llm"
    assert [t.label for t in out.results[0].topics] == ["sculpture"]
    assert model.info()["backend"].startswith("llm:transformers:") and model.info()["prompt"] == "topics-v1"


def test_random_model_output_degrades_to_taxonomy(random_model):
    _, out = assign(random_model)
    assert out.degraded and out.fallback_reason
    assert out.results[0].source == "zeroshot-fallback" and out.results[0].topics


def test_missing_model_directory_degrades_instead_of_failing(tmp_path):
    _, out = assign(str(tmp_path / "nope"))
    assert out.degraded and "cannot load" in out.fallback_reason
    assert out.results[0].topics
