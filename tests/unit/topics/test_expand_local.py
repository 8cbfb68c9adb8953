"""Label expansion from the local transformers client with the zero-shot topic backend: tiny GPT-2
models built here (as in tests/unit/llm/test_llm_local.py; no downloads). In one, greedy decoding
always emits a single token that is a whole JSON expansion; the other is random (noise: no expansion)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.models import embed
from tests.support.tiny_llm import build_tiny_model
from topicserve.topics import TopicModel, TopicsConfig

EXAMPLE = "The watchmaker replaced the mainspring of the antique pocket watch."
ANSWER = json.dumps({"definitions": ["Clocks, watches and their makers."], "examples": [EXAMPLE]})
VOCAB = [ANSWER, "topic", "definition", "timekeeping", "json", "the", "a"]


@pytest.fixture(autouse=True)
def expansions_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICSERVE_LABEL_EXPANSIONS_DIR", str(tmp_path / "expansions"))


def expanded(model_path: str) -> TopicModel:
    llm = {"model": model_path, "device": "cpu", "expand_max_tokens": 16}
    labels = [{"label": "Horology", "description": "Timekeeping."}]
    config = TopicsConfig(taxonomy=labels, expand_labels=True, expand_client="transformers", llm=llm)

    async def run():
        model = TopicModel(embed, config)
        await model.expansion_done()
        return model

    return asyncio.run(run())


def test_a_local_model_expands_the_labels_of_the_zeroshot_backend(tmp_path):
    model = expanded(build_tiny_model(tmp_path / "answer", VOCAB, ANSWER))
    assert model.backend.name == "zeroshot"
    horology = model.taxonomy.topics[0]
    assert horology.descriptions == ["Clocks, watches and their makers."] and horology.examples == [EXAMPLE]
    info = model.info()["expansion"]
    assert info["expanded"] == ["Horology"] and info["llm"] == "transformers:answer"  # no local path shown


def test_a_local_model_answering_noise_expands_nothing(tmp_path):
    model = expanded(build_tiny_model(tmp_path / "random", VOCAB, None))
    assert model.taxonomy.topics[0].examples == []
    assert "no JSON object" in model.info()["expansion"]["failed"]["Horology"]
