"""/documents/{id}/feedback (people's verdicts on a document's topics) and /queries/top (the query log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from topicserve import schemas as s
from topicserve.api.errormap import current_request_id
from topicserve.gateway import Gateway


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter()

    @api.post("/documents/{id}/feedback", response_model=s.FeedbackResponse, tags=["feedback"])
    async def post_feedback(doc_id: Annotated[s.DocId, Path(alias="id")], req: s.FeedbackRequest) -> s.FeedbackResponse:
        return await gateway.post_feedback(doc_id, req, current_request_id())

    @api.get("/documents/{id}/feedback", response_model=s.FeedbackResponse, tags=["feedback"])
    async def list_feedback(doc_id: Annotated[s.DocId, Path(alias="id")]) -> s.FeedbackResponse:
        return await gateway.list_feedback(doc_id)

    @api.get("/queries/top", response_model=s.TopQueriesResponse, tags=["search"])
    async def top_queries(q: Annotated[s.TopQueriesQuery, Query()]) -> s.TopQueriesResponse:
        return await gateway.top_queries(q.limit, q.since)

    return api
