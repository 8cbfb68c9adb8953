"""A replica embeds batches and health checks on different threads: results must not mix."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np


def test_concurrent_calls_give_the_sequential_results(embedder):
    texts = [
        f"A {word} statue stands in gallery {i}. " * (1 + i % 40) for i, word in enumerate(["bronze", "marble"] * 8)
    ]
    expected = [embedder.embed([t])[0] for t in texts]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda t: embedder.embed([t])[0], texts))
    for e, g in zip(expected, got, strict=True):
        assert np.allclose(e, g, atol=1e-5)
