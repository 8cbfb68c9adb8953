"""Rows for the store tests: a 4-dimensional space, documents ``d0``, ``d1``, ... and unit vectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, StoredDocument
from topicserve.topics import TopicScore

SPACE = EmbeddingSpace(model="m", dim=4)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def doc(i: int, topic: str = "painting", days: int = 0, **meta) -> StoredDocument:
    return StoredDocument(
        id=f"d{i}",
        text=f"text {i}",
        timestamp=T0 + timedelta(days=days),
        metadata=meta,
        topics=[TopicScore(label=topic, score=0.5)],
    )


def unit(*rows) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def snapshot(store: DocumentStore) -> tuple[int, list[tuple[str, str]]]:
    """The table version and every (id, text): what must not change when a write is refused."""
    return store.table.version, sorted((d.id, d.text) for d in store.documents())
