"""The real embedding model, loaded once per test session, and its vectors memoised per text."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cache

import numpy as np

from topicserve.topics import Assignment, TopicModel, TopicsConfig


@cache
def embedder():
    from topicserve.embedding import Embedder
    from topicserve.settings import DEFAULT_MODEL

    return Embedder(DEFAULT_MODEL, "cpu")


_VECTORS: dict[str, np.ndarray] = {}


def embed_sync(texts: list[str]) -> np.ndarray:
    """The real model's vectors, memoised per text across tests (labels are embedded again and again)."""
    missing = [t for t in dict.fromkeys(texts) if t not in _VECTORS]
    if missing:
        _VECTORS.update(zip(missing, embedder().embed(missing), strict=True))
    return np.stack([_VECTORS[t] for t in texts]) if texts else np.zeros((0, embedder().dim), dtype=np.float32)


async def embed(texts: list[str]) -> np.ndarray:
    return await asyncio.to_thread(embed_sync, list(texts))


def assign(config: TopicsConfig, texts: Sequence[str]) -> Assignment:
    """``texts`` through a TopicModel of ``config`` on the real model's vectors."""

    async def run() -> Assignment:
        model = TopicModel(embed, config)
        return await model.assign_detailed(list(texts), await embed(list(texts)))

    return asyncio.run(run())
