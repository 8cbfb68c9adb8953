"""The FastAPI app: routes, limits, and the one place where errors become HTTP responses."""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Annotated

from fastapi import FastAPI, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from topicserve import __version__
from topicserve import schemas as s
from topicserve.errors import InvalidInput, NotReady, PayloadTooLarge, TopicServeError, Unauthorized
from topicserve.gateway import Gateway
from topicserve.metrics import NO_METRICS, Metrics
from topicserve.redact import redact
from topicserve.settings import Settings, get_settings
from topicserve.ui import is_public_path, mount_ui

log = logging.getLogger(__name__)
access_log = logging.getLogger("topicserve.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_request_id: ContextVar[str | None] = ContextVar("topicserve_request_id", default=None)
# The error code a request was answered with, for the access log and metrics: a mutable holder set
# by RequestContext, filled by error_body (a holder, so it is seen whatever context the answer ran in).
_outcome: ContextVar[dict | None] = ContextVar("topicserve_outcome", default=None)
OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # answer without an API key (probes)


# ---- the one mapping from any exception to an error ------------------------------------------
def _field(loc: tuple) -> str:
    """'documents.1.text' from ('body', 'documents', 1, 'text'); the leading source is dropped."""
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in ("body", "query", "path") else loc)]
    parts = [p for p in parts if "[" not in p and not p.startswith("function-")]  # pydantic's union/validator tags
    return ".".join(parts) or (str(loc[0]) if loc else "body")


def _invalid(exc: RequestValidationError) -> InvalidInput:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return InvalidInput("body is not valid JSON", field="body", errors=1)
    field = _field(tuple(first.get("loc", ())))
    return InvalidInput(f"{field}: {first.get('msg', 'invalid value')}", field=field, errors=len(exc.errors()))


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def _http(exc: StarletteHTTPException) -> TopicServeError:
    if exc.status_code == 400:  # FastAPI's "error parsing the body": not UTF-8, or JSON nested too deep
        return InvalidInput("the body could not be parsed (not UTF-8 JSON, or nested too deeply)", field="body")
    err = TopicServeError("not found" if exc.status_code == 404 else str(exc.detail), field=None)
    err.status, err.code = exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error")
    # Per-instance headers for Starlette's error; the ClassVar keeps ruff's RUF012 honest for the subclasses.
    err.headers = dict(exc.headers or {}) or None  # type: ignore[misc]
    return err


def as_error(exc: BaseException) -> TopicServeError:
    """Every exception as a TopicServeError: ours (also when Ray wrapped it), FastAPI's, Starlette's,
    or a generic internal error whose text stays in the log, never in the response."""
    for candidate in (getattr(exc, "cause", None), exc, exc.__cause__):  # Ray's RayTaskError keeps ours in .cause
        if isinstance(candidate, TopicServeError) and hasattr(candidate, "message"):
            return candidate
    if isinstance(exc, RequestValidationError):
        return _invalid(exc)
    if isinstance(exc, StarletteHTTPException):
        return _http(exc)
    log.error("unhandled error (request %s)", _request_id.get(), exc_info=exc)
    return TopicServeError("internal error")


def error_body(exc: TopicServeError) -> dict:
    body = exc.to_dict()
    body["error"]["message"] = redact(str(body["error"]["message"]))
    body["error"]["request_id"] = _request_id.get()
    outcome = _outcome.get()
    if outcome is not None:
        outcome["error"] = exc.code
    return body


def error_response(exc: TopicServeError) -> JSONResponse:
    return JSONResponse(error_body(exc), status_code=exc.status, headers=exc.headers)


# ---- middleware (plain ASGI: runs for every response, errors included) ----------------------
class RequestContext:
    """Outermost: a request id for every request (the caller's ``X-Request-ID`` if it is a short sane
    token, else a new uuid4), on the response and in one access-log line per request; and the last
    net under every exception, answered in the error format (Starlette's own would be plain text).

    Behind Serve the proxy has already put an id in ``x-request-id`` (the caller's, or its own) and adds
    ``X-Request-ID`` to the response itself, so ``behind_serve`` only reads it.

    The access-log record carries ``request_id``, ``method``, ``endpoint``, ``status_code``, ``duration_ms``
    and ``error`` (the error code, if any) as fields (JSON logs show them as keys); each request is
    also counted in ``metrics`` (latency per route and status class, rejections per error code)."""

    def __init__(self, app, behind_serve: bool = False, metrics: Metrics = NO_METRICS) -> None:
        self.app, self.behind_serve, self.metrics = app, behind_serve, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        incoming = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        rid = incoming if _SANE_ID.match(incoming) else str(uuid.uuid4())
        token, started, status = _request_id.set(rid), time.perf_counter(), [0]
        outcome: dict = {"error": None}
        outcome_token = _outcome.set(outcome)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                if not self.behind_serve:
                    message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # the net: mapped once, never re-raised
            if status[0]:
                log.error("error after the response started (request %s)", rid, exc_info=exc)
            else:
                await error_response(as_error(exc))(scope, receive, send_with_id)
        finally:
            self._record(scope, status[0], time.perf_counter() - started, rid, outcome["error"])
            _outcome.reset(outcome_token)
            _request_id.reset(token)

    def _record(self, scope, status: int, seconds: float, rid: str, error: str | None) -> None:
        route = getattr(scope.get("route"), "path", "(no route)")
        # Not "route": Serve's log filter sets that key to the app's route prefix.
        fields = {"request_id": rid, "method": scope["method"], "endpoint": route, "status_code": status}
        fields |= {"duration_ms": round(seconds * 1000, 1), "error": error}
        access_log.info(
            "%s %s %s %.1fms request_id=%s", scope["method"], route, status, seconds * 1000, rid, extra=fields
        )
        try:  # metrics must never turn an answered request into an error
            self.metrics.request(scope["method"], route, status, seconds)
            if error is not None and status >= 400:
                self.metrics.rejected(error)
        except Exception:
            log.warning("recording request metrics failed", exc_info=True)


class ApiKey:
    """With a key configured, every path but the probes needs ``Authorization: Bearer <key>``."""

    def __init__(self, app, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or is_public_path(scope["path"]):
            return await self.app(scope, receive, send)
        scheme, _, given = dict(scope.get("headers", [])).get(b"authorization", b"").partition(b" ")
        # compare_digest on bytes: constant time whatever the caller sent (also non-ASCII).
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.key):
            return await self.app(scope, receive, send)
        denied = Unauthorized(
            "missing or wrong API key: send it as a bearer token in the Authorization header", field="authorization"
        )
        return await error_response(denied)(scope, receive, send)


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with a JSON 413, declared (Content-Length) or streamed (chunked).

    Not FastAPI/Starlette's limiter: it answers an oversized Content-Length in plain text, and an
    exception raised from ``receive`` mid-stream surfaces as FastAPI's 400 "error parsing the body".
    Here the body is read up to the limit first (the app reads all of it anyway), then replayed.
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
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                return await error_response(too_large)(scope, receive, send)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


class ToServeLogger(logging.Handler):
    """Hands topicserve's records to Serve's replica logger ("ray.serve"): they land in the replica's
    log file in its encoding (JSON with ``logging_config: {encoding: JSON}``), extra fields as keys.
    Serve configures only its own logger (not propagating), so ours would otherwise reach the file
    only as text printed to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        serve_logger = logging.getLogger("ray.serve")
        if serve_logger.handlers:  # configured: inside a Serve replica
            serve_logger.handle(record)


def _access_log_on(behind_serve: bool = False) -> None:
    """One INFO line per request must reach the log also where nobody configured logging (a Serve
    replica configures only Ray's own loggers): behind Serve through Serve's logger, else stderr."""
    access_log.setLevel(logging.INFO)
    ours = logging.getLogger("topicserve")
    if behind_serve:
        if not any(isinstance(h, ToServeLogger) for h in ours.handlers):
            ours.addHandler(ToServeLogger())
        return
    if not access_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        access_log.addHandler(handler)


def build_app(
    gateway: Gateway, settings: Settings | None = None, *, behind_serve: bool = False, metrics: Metrics = NO_METRICS
) -> FastAPI:
    settings = settings or get_settings()
    _access_log_on(behind_serve)
    app = FastAPI(
        title="topicserve",
        version=__version__,
        description="Semantic search, topic tagging and trending topics over a document stream. "
        "Limits, errors, auth and request ids: docs/api.md.",
        docs_url=None,  # /docs is served offline by mount_ui; FastAPI's own loads Swagger UI from a CDN
        redoc_url=None,  # ReDoc too loads from a CDN: blank offline
    )
    mount_ui(app)
    # add_middleware puts the last one outermost: RequestContext > CORS > ApiKey > BodyLimit > routes.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.api_key is not None:
        app.add_middleware(ApiKey, key=settings.api_key.get_secret_value())
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type", REQUEST_ID_HEADER],
            expose_headers=["x-request-id", "retry-after"],
        )
    app.add_middleware(RequestContext, behind_serve=behind_serve, metrics=metrics)

    async def _error(_, exc: Exception) -> JSONResponse:
        return error_response(as_error(exc))

    for kind in (RequestValidationError, StarletteHTTPException, TopicServeError):
        app.add_exception_handler(kind, _error)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        try:
            return JSONResponse(await gateway.ready())
        except Exception as exc:  # any failure means not ready; say why, in words of ours only
            err = as_error(exc)
            if type(err) is TopicServeError:  # not one of ours: its text stays in the log
                err = NotReady("not ready: a part of the service is not answering yet")
            return JSONResponse({"status": "not ready", **error_body(err)}, status_code=503)

    @app.post("/v1/embeddings", response_model=s.EmbeddingsResponse, tags=["embeddings"])
    async def embeddings(req: s.EmbeddingsRequest) -> s.EmbeddingsResponse:
        return await gateway.embeddings(req)

    @app.post("/documents", response_model=s.IngestResponse, tags=["documents"])
    async def ingest(req: s.IngestRequest) -> s.IngestResponse:
        return await gateway.ingest(req)

    @app.get("/documents/{id}", response_model=s.DocumentOut, tags=["documents"])
    async def get_document(doc_id: Annotated[s.DocId, Path(alias="id")]) -> s.DocumentOut:
        return await gateway.get_document(doc_id)

    # ---- document management (store issue 10) -------------------------------------------------
    @app.delete("/documents/{id}", response_model=s.DeleteResponse, tags=["documents"])
    async def delete_document(doc_id: Annotated[s.DocId, Path(alias="id")]) -> s.DeleteResponse:
        return await gateway.delete_document(doc_id)

    @app.post("/documents/delete", response_model=s.DeleteResponse, tags=["documents"])
    async def delete_documents(req: s.DeleteRequest) -> s.DeleteResponse:
        return await gateway.delete_documents(req)

    @app.get("/documents", response_model=s.DocumentList, tags=["documents"])
    async def list_documents(q: Annotated[s.DocumentsQuery, Query()]) -> s.DocumentList:
        return await gateway.list_documents(q.topic, q.since, q.until, q.limit, q.cursor)

    @app.post("/search", response_model=s.SearchResponse, tags=["search"])
    async def search(req: s.SearchRequest) -> s.SearchResponse:
        return await gateway.search(req)

    @app.post("/topics", response_model=s.TopicsResponse, tags=["topics"])
    async def topics(req: s.TopicsRequest) -> s.TopicsResponse:
        return await gateway.assign_topics(req)

    @app.get("/trends", response_model=s.TrendsResponse, tags=["topics"])
    async def trends(q: Annotated[s.TrendsQuery, Query()]) -> s.TrendsResponse:
        return await gateway.trends(q.window, q.baseline, q.bin, q.now, q.min_count, q.candidates, q.unmatched_below)

    @app.post("/evaluate", response_model=s.EvaluateResponse, tags=["topics"])
    async def evaluate(req: s.EvaluateRequest) -> s.EvaluateResponse:
        return await gateway.evaluate(req)

    return app
