"""The local transformers LLM backend, with tiny GPT-2 models built in the test (no downloads).

The tokenizer is a word-level `tokenizers` model built from a fixed vocabulary, wrapped in
`PreTrainedTokenizerFast`; the model is a randomly initialised 1-layer GPT-2. One model is left
random (its output is noise, so the backend must degrade); in the other the final layer norm and
the output layer are set so that greedy decoding always emits the token ``["sculpture"]``.
"""

from __future__ import annotations

import asyncio

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from tests.support.models import embed
from topicserve.llm.base import LLMConfig
from topicserve.llm.local_hf import TransformersChatModel
from topicserve.topics import TopicModel, TopicsConfig

ANSWER = '["sculpture"]'
VOCAB = ["[UNK]", "[PAD]", "[EOS]", ANSWER, "the", "a", "statue", "of", "bronze", "topics", "document", "json"]


def build_tiny_model(path, *, answer: bool) -> str:
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(VOCAB),
        n_positions=2048,
        n_embd=16,
        n_layer=1,
        n_head=2,
        tie_word_embeddings=False,
        eos_token_id=2,
        pad_token_id=1,
        bos_token_id=2,
    )
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


@pytest.fixture(scope="module")
def answering_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-answer"), answer=True)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-random"), answer=False)


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
