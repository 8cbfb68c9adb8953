"""Label expansion from the local transformers client with the zero-shot topic backend: tiny GPT-2
models built here (as in tests/unit/llm/test_llm_local.py; no downloads). In one, greedy decoding
always emits a single token that is a whole JSON expansion; the other is random (noise: no expansion)."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from tests.support.models import embed
from topicserve.topics import TopicModel, TopicsConfig

EXAMPLE = "The watchmaker replaced the mainspring of the antique pocket watch."
ANSWER = json.dumps({"definitions": ["Clocks, watches and their makers."], "examples": [EXAMPLE]})
VOCAB = ["[UNK]", "[PAD]", "[EOS]", ANSWER, "topic", "definition", "timekeeping", "json", "the", "a"]


def build_tiny_model(path, *, answer: bool) -> str:
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(VOCAB), n_positions=2048, n_embd=16, n_layer=1, n_head=2)
    config.tie_word_embeddings, config.eos_token_id, config.pad_token_id = False, 2, 1
    model = GPT2LMHeadModel(config)
    if answer:
        with torch.no_grad():
            direction = torch.randn(16)
            model.transformer.ln_f.weight.zero_()
            model.transformer.ln_f.bias.copy_(direction)  # every position's final state = direction
            model.lm_head.weight.zero_()
            model.lm_head.weight[VOCAB.index(ANSWER)] = direction  # ... whose best next token is ANSWER
    model.save_pretrained(path)
    return str(path)


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
    model = expanded(build_tiny_model(tmp_path / "answer", answer=True))
    assert model.backend.name == "zeroshot"
    horology = model.taxonomy.topics[0]
    assert horology.descriptions == ["Clocks, watches and their makers."] and horology.examples == [EXAMPLE]
    info = model.info()["expansion"]
    assert info["expanded"] == ["Horology"] and info["llm"] == "transformers:answer"  # no local path shown


def test_a_local_model_answering_noise_expands_nothing(tmp_path):
    model = expanded(build_tiny_model(tmp_path / "random", answer=False))
    assert model.taxonomy.topics[0].examples == []
    assert "no JSON object" in model.info()["expansion"]["failed"]["Horology"]
