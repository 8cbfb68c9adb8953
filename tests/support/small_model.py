"""A second, small sentence-transformers model for the model-upgrade tests (no hub here).

A 2-layer BERT of 64 dimensions with MiniLM's tokenizer and seeded random weights: another
embedding space (64-dim, not 384) that loads in well under a second. Its vectors mean nothing;
the tests only need a real model of a different space, saved the way a user's own model is.
"""

from __future__ import annotations

from pathlib import Path

DIM = 64


def build_small_model(out: Path, seed: int = 0) -> Path:
    """Save the small model as a sentence-transformers directory at ``out`` (Transformer + mean Pooling)."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from topicserve.embedding.base import model_directory
    from topicserve.settings import DEFAULT_MODEL

    tokenizer = AutoTokenizer.from_pretrained(str(model_directory(DEFAULT_MODEL)))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=2 * DIM,
        max_position_embeddings=256,
    )
    torch.manual_seed(seed)
    raw = out.parent / f"{out.name}-bert"
    BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=128)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(out))
    return out
