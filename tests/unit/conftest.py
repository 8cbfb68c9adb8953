"""The unit tests' environment: no TOPICSERVE_* variable of the developer's shell, from the first
fixture on (module- and session-scoped fixtures are set up before a test's own autouse fixture, so
tests/conftest.py's ``fresh_settings`` alone would come too late for them)."""

from __future__ import annotations

import pytest

from tests.conftest import service_variables


@pytest.fixture(scope="package", autouse=True)
def no_service_variables():
    from topicserve.settings import get_settings

    with pytest.MonkeyPatch.context() as mp:
        for name in service_variables():
            mp.delenv(name)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture
def service(tmp_path):
    """The in-process app over a fresh store: (gateway, TestClient)."""
    from tests.support.app import serve
    from tests.support.models import embedder

    with serve(tmp_path / "store", embedder()) as (gateway, http):
        yield gateway, http
