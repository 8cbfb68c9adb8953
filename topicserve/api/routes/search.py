"""/search: semantic search over the stored documents."""

from __future__ import annotations

from fastapi import APIRouter

from topicserve import schemas as s
from topicserve.gateway import Gateway


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter()

    @api.post("/search", response_model=s.SearchResponse, tags=["search"])
    async def search(req: s.SearchRequest) -> s.SearchResponse:
        return await gateway.search(req)

    return api
