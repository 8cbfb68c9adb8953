"""/documents: ingest, read, list and delete stored documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from topicserve import schemas as s
from topicserve.gateway import Gateway


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter()

    @api.post("/documents", response_model=s.IngestResponse, tags=["documents"])
    async def ingest(req: s.IngestRequest) -> s.IngestResponse:
        return await gateway.ingest(req)

    @api.get("/documents/{id}", response_model=s.DocumentOut, tags=["documents"])
    async def get_document(doc_id: Annotated[s.DocId, Path(alias="id")]) -> s.DocumentOut:
        return await gateway.get_document(doc_id)

    # ---- document management (store issue 10) -------------------------------------------------
    @api.delete("/documents/{id}", response_model=s.DeleteResponse, tags=["documents"])
    async def delete_document(doc_id: Annotated[s.DocId, Path(alias="id")]) -> s.DeleteResponse:
        return await gateway.delete_document(doc_id)

    @api.post("/documents/delete", response_model=s.DeleteResponse, tags=["documents"])
    async def delete_documents(req: s.DeleteRequest) -> s.DeleteResponse:
        return await gateway.delete_documents(req)

    @api.get("/documents", response_model=s.DocumentList, tags=["documents"])
    async def list_documents(q: Annotated[s.DocumentsQuery, Query()]) -> s.DocumentList:
        return await gateway.list_documents(q.topic, q.since, q.until, q.limit, q.cursor)

    return api
