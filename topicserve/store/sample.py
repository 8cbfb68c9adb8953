"""A bounded sample of the stored vectors: the pool the topic refinement learns from (topics/refine.py).

Only the ``vector`` column is read. Up to ``limit`` documents: all of them; beyond: a fixed-seed
random sample of row positions taken through Lance (``take``), so a large store is never scanned
whole for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from topicserve.store.table import DocumentStore


def _matrix(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, dim)


def sample_vectors(
    store: DocumentStore, limit: int, min_count: int = 1, seed: int = 0
) -> tuple[int, np.ndarray | None]:
    """(how many documents the store holds, up to ``limit`` of their vectors); no vectors (None) when
    it holds fewer than ``min_count``."""
    count = len(store)
    if count < max(min_count, 1) or store.table is None or store.space is None:
        return count, None
    if count <= limit:
        scan = store.table.search().select(["vector"]).limit(None).to_arrow()
        return count, _matrix(scan.column("vector"), store.space.dim)
    rows = np.sort(np.random.default_rng(seed).choice(count, limit, replace=False))
    taken = store.table.to_lance().take(rows.tolist(), columns=["vector"])
    return count, _matrix(taken.column("vector"), store.space.dim)
