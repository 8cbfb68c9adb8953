"""The routes, one module (one APIRouter) per OpenAPI tag. A new concern is a new module here, listed
in ``ROUTERS``: the order is the order of the paths in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from topicserve.api.routes import documents, embeddings, ops, search, topics
from topicserve.gateway import Gateway

ROUTERS: tuple[Callable[[Gateway], APIRouter], ...] = (
    ops.router,
    embeddings.router,
    documents.router,
    search.router,
    topics.router,
)


def include_routes(app: FastAPI, gateway: Gateway) -> None:
    for make_router in ROUTERS:
        app.include_router(make_router(gateway))
