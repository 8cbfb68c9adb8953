"""Shared fixtures: hermetic settings and environment, and one real embedding model per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

UNIT = Path(__file__).resolve().parent / "unit"
# The tests' own knobs (where a tool lives, which ports the test Ray takes): not service settings.
TEST_KNOBS = frozenset(
    {"TOPICSERVE_MOTO_SERVER", "TOPICSERVE_CHROMIUM", "TOPICSERVE_TEST_RAY_PORT_BASE", "TOPICSERVE_TEST_SERVE_PORT"}
)


def service_variables() -> list[str]:
    """The TOPICSERVE_* variables of this environment that could change the service's settings."""
    return [n for n in os.environ if n.upper().startswith("TOPICSERVE_") and n.upper() not in TEST_KNOBS]


@pytest.fixture(autouse=True)
def fresh_settings(request, monkeypatch):
    """Each test reads the settings from its own environment (``monkeypatch.setenv`` included), with
    the settings cache cleared before and after. A unit test also starts with no TOPICSERVE_*
    variable (tests/unit/conftest.py clears them for the unit tests' module and session fixtures
    too), so a developer's shell cannot change its result. The e2e tests keep the environment: what
    they deploy gets its settings from the Serve config they write."""
    from topicserve.settings import get_settings

    if UNIT in request.path.parents:
        for name in service_variables():
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():
    from tests.support.models import embedder

    return embedder()
