"""Shared fixtures: hermetic settings, and one real embedding model per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test reads the settings from its own environment (``monkeypatch.setenv`` included)."""
    from topicserve.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():
    from topicserve.embedding import Embedder
    from topicserve.settings import DEFAULT_MODEL

    return Embedder(DEFAULT_MODEL, "cpu")
