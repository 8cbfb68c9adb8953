"""/v1/embeddings: OpenAI-compatible embeddings."""

from __future__ import annotations

from fastapi import APIRouter

from topicserve import schemas as s
from topicserve.gateway import Gateway


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter()

    @api.post("/v1/embeddings", response_model=s.EmbeddingsResponse, tags=["embeddings"])
    async def embeddings(req: s.EmbeddingsRequest) -> s.EmbeddingsResponse:
        return await gateway.embeddings(req)

    return api
