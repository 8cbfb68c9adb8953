"""Tiny local GPT-2 chat models for the transformers LLM client's tests, built in the test (no
downloads): a word-level tokenizer over a fixed vocabulary wrapped in `PreTrainedTokenizerFast`, and
a randomly initialised 1-layer GPT-2. Left random, its output is noise (the client must degrade);
with ``answer`` (a token of ``vocab``), the final layer norm and the output layer are set so that
greedy decoding always emits that token."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

# The special tokens every vocabulary here starts with: unknown, padding and end of sequence.
SPECIAL = ["[UNK]", "[PAD]", "[EOS]"]


def build_tiny_model(path, vocab: list[str], answer: str | None) -> str:
    """A model directory at ``path`` whose vocabulary is ``SPECIAL + vocab``."""
    words = [*SPECIAL, *vocab]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(words),
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
    if answer is not None:
        with torch.no_grad():
            direction = torch.randn(16)
            model.transformer.ln_f.weight.zero_()
            model.transformer.ln_f.bias.copy_(direction)  # every position's final state = direction
            model.lm_head.weight.zero_()
            model.lm_head.weight[words.index(answer)] = direction  # ... whose best next token is the answer
    model.save_pretrained(path)
    return str(path)
