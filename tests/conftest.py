"""Shared fixtures: hermetic settings, and one real embedding model per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    from topicserve.embedding import Embedder
    from topicserve.settings import DEFAULT_MODEL

    return Embedder(DEFAULT_MODEL, "cpu")
