"""The whole service in one process (topicserve.inprocess), behind a TestClient: real model, real
LanceDB in a tmp dir, the real FastAPI app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from topicserve.api import build_app
from topicserve.gateway import Gateway
from topicserve.inprocess import build_gateway
from topicserve.settings import Settings


def started_gateway(storage: str | Path, embedder, **options) -> Gateway:
    """A gateway over a store at ``storage``, started (``options``: build_gateway's, e.g. topics=)."""
    gateway = build_gateway(str(storage), embedder=embedder, **options)
    asyncio.run(gateway.startup())
    return gateway


@contextmanager
def serve(
    storage: str | Path, embedder, settings: Settings | None = None, *, raise_server_exceptions: bool = True, **options
) -> Iterator[tuple[Gateway, TestClient]]:
    """The gateway and an HTTP client of the app built on it."""
    gateway = started_gateway(storage, embedder, **options)
    app = build_app(gateway, settings)
    with TestClient(app, raise_server_exceptions=raise_server_exceptions) as client:
        yield gateway, client


def post_docs(http: TestClient, docs: list[dict], **kwargs) -> dict:
    """POST /documents, which must answer 200; its JSON body."""
    resp = http.post("/documents", json={"documents": docs}, **kwargs)
    assert resp.status_code == 200, resp.text
    return resp.json()
