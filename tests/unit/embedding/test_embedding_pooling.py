"""Long documents are split into model-sized windows and mean-pooled, not truncated (real model)."""

from __future__ import annotations

import numpy as np

from tests.support.models import embedder

HEAD = "The sculptor carved a marble statue of a saint for the cathedral, working the stone for months. " * 30
TAIL = "The photographer developed black and white film negatives in a darkroom and printed photographs. " * 12


def test_long_document_is_pooled_over_all_windows():
    model = embedder()
    text = HEAD + TAIL
    windows = model._windows(text)
    assert len(windows) >= 3, "the test text must be longer than the model window"
    assert all(n <= model.max_tokens - 2 for _, n in windows)

    pooled = model.embed([text])[0]
    window_vectors = model.embed([w for w, _ in windows])
    weights = np.array([n for _, n in windows], dtype=np.float32)
    expected = weights @ window_vectors / weights.sum()
    expected /= np.linalg.norm(expected)
    assert np.allclose(pooled, expected, atol=1e-4)  # token-weighted mean of the windows, re-normalised
    assert np.isclose(np.linalg.norm(pooled), 1.0, atol=1e-5)

    # the end of the document is in the vector: truncation (= the first window alone) would lose it
    tail = model.embed([TAIL])[0]
    truncated = window_vectors[0]
    assert float(pooled @ tail) > float(truncated @ tail) + 0.1


def test_short_text_is_a_single_window():
    model = embedder()
    assert model._windows("A short note about a painting.") == [("A short note about a painting.", 7)]
