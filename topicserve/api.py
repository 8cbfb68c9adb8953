"""The FastAPI app: routes, limits, and the one place where errors become HTTP responses."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from topicserve import __version__
from topicserve import schemas as s
from topicserve.errors import PayloadTooLarge, TopicServeError
from topicserve.gateway import Gateway
from topicserve.settings import get_settings

log = logging.getLogger(__name__)


def _domain_error(exc: BaseException) -> TopicServeError | None:
    """The TopicServeError behind ``exc``: itself, or the cause Ray wrapped in a RayTaskError."""
    for candidate in (exc, getattr(exc, "cause", None), exc.__cause__):
        if isinstance(candidate, TopicServeError):
            return candidate
    return None


def _field(loc: tuple) -> str:
    """'documents.1.text' from ('body', 'documents', 1, 'text'); the leading source is dropped."""
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)]
    parts = [p for p in parts if "[" not in p]  # pydantic's union-member tags, e.g. "list[str]"
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def error_response(exc: TopicServeError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers)


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes (declared or streamed) with a 413.

    Not FastAPI's ``max_body_size``: for an oversized declared Content-Length, Starlette's limiter
    answers with a plain-text body itself, outside the app's error format; this one answers with
    the same ``{"error": {...}}`` JSON as every other error.
    """

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = PayloadTooLarge(f"request body exceeds {self.limit} bytes", field="body", limit=self.limit)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await error_response(too_large)(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise too_large
            return message

        return await self.app(scope, limited_receive, send)


def build_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(
        title="topicserve",
        version=__version__,
        description="Semantic search, topic tagging and trending topics over a document stream.",
    )
    app.add_middleware(BodyLimit, limit=get_settings().max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = _field(tuple(first.get("loc", ())))
        message = f"{field}: {first.get('msg', 'invalid value')}"
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_input",
                    "message": message,
                    "field": field,
                    "type": "invalid_input",
                    "errors": len(exc.errors()),
                }
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:  # unknown route, wrong method
        detail = str(exc.detail)
        body = {"error": {"code": "http_error", "message": detail, "field": None, "type": "http_error"}}
        body["error"]["status"] = exc.status_code
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(TopicServeError)
    async def _domain(_: Request, exc: TopicServeError) -> JSONResponse:
        return error_response(_domain_error(exc) or exc)

    @app.exception_handler(Exception)
    async def _any(_: Request, exc: Exception) -> JSONResponse:
        domain = _domain_error(exc)
        if domain is not None:
            return error_response(domain)
        log.exception("unhandled error")
        return JSONResponse(TopicServeError("internal error").to_dict(), status_code=500)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        try:
            return JSONResponse(await gateway.ready())
        except Exception as exc:  # any failure means not ready; say why
            domain = _domain_error(exc)
            message = domain.message if domain else f"{type(exc).__name__}: {exc}"
            return JSONResponse({"status": "not ready", "error": {"message": message}}, status_code=503)

    @app.post("/v1/embeddings", response_model=s.EmbeddingsResponse, tags=["embeddings"])
    async def embeddings(req: s.EmbeddingsRequest) -> s.EmbeddingsResponse:
        return await gateway.embeddings(req)

    @app.post("/documents", response_model=s.IngestResponse, tags=["documents"])
    async def ingest(req: s.IngestRequest) -> s.IngestResponse:
        return await gateway.ingest(req)

    @app.get("/documents/{doc_id}", response_model=s.DocumentOut, tags=["documents"])
    async def get_document(doc_id: str) -> s.DocumentOut:
        return await gateway.get_document(doc_id)

    # ---- document management (store issue 10) -------------------------------------------------
    @app.delete("/documents/{doc_id}", response_model=s.DeleteResponse, tags=["documents"])
    async def delete_document(doc_id: str) -> s.DeleteResponse:
        return await gateway.delete_document(doc_id)

    @app.post("/documents/delete", response_model=s.DeleteResponse, tags=["documents"])
    async def delete_documents(req: s.DeleteRequest) -> s.DeleteResponse:
        return await gateway.delete_documents(req)

    @app.get("/documents", response_model=s.DocumentList, tags=["documents"])
    async def list_documents(
        topic: str | None = Query(None, min_length=1, max_length=200, description="Only documents with this topic."),
        since: datetime | None = Query(None, description="Only documents at or after this time."),
        until: datetime | None = Query(None, description="Only documents before this time."),
        limit: int = Query(100, ge=1, le=1000, description="Page size."),
        cursor: str | None = Query(None, max_length=1024, description="`next_cursor` of the previous page."),
    ) -> s.DocumentList:
        return await gateway.list_documents(topic, s._utc(since), s._utc(until), limit, cursor)

    @app.post("/search", response_model=s.SearchResponse, tags=["search"])
    async def search(req: s.SearchRequest) -> s.SearchResponse:
        return await gateway.search(req)

    @app.post("/topics", response_model=s.TopicsResponse, tags=["topics"])
    async def topics(req: s.TopicsRequest) -> s.TopicsResponse:
        return await gateway.assign_topics(req)

    @app.get("/trends", response_model=s.TrendsResponse, tags=["topics"])
    async def trends(
        window: str = Query("7d", description="Recent window, e.g. 7d, 12h, 2w."),
        baseline: str = Query("30d", description="Baseline period just before the window."),
        bin: str | None = Query(None, description="Bin width of the returned series; default min(window, baseline)."),
        now: datetime | None = Query(None, description="Evaluate as of this time (default: now)."),
        min_count: int = Query(2, ge=1, le=100000, description="Least recent count for a topic to trend."),
        candidates: bool = Query(True, description="Discover candidate topics among unmatched documents."),
        unmatched_below: float | None = Query(
            None, ge=-1.0, le=1.0, description="Also treat documents whose best topic scores below this as unmatched."
        ),
    ) -> s.TrendsResponse:
        return await gateway.trends(window, baseline, bin, now, min_count, candidates, unmatched_below)

    @app.post("/evaluate", response_model=s.EvaluateResponse, tags=["topics"])
    async def evaluate(req: s.EvaluateRequest) -> s.EvaluateResponse:
        return await gateway.evaluate(req)

    return app
