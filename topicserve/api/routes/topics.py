"""/topics (tag texts), /trends (trending topics in the store), /evaluate (topics against human labels)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from topicserve import schemas as s
from topicserve.gateway import Gateway


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter()

    @api.post("/topics", response_model=s.TopicsResponse, tags=["topics"])
    async def topics(req: s.TopicsRequest) -> s.TopicsResponse:
        return await gateway.assign_topics(req)

    @api.get("/trends", response_model=s.TrendsResponse, tags=["topics"])
    async def trends(q: Annotated[s.TrendsQuery, Query()]) -> s.TrendsResponse:
        return await gateway.trends(q.window, q.baseline, q.bin, q.now, q.min_count, q.candidates, q.unmatched_below)

    @api.post("/evaluate", response_model=s.EvaluateResponse, tags=["topics"])
    async def evaluate(req: s.EvaluateRequest) -> s.EvaluateResponse:
        return await gateway.evaluate(req)

    return api
