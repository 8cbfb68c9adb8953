"""The one mapping from any exception to an error response (``{"error": {...}}``, topicserve/errors.py),
and the request's id and outcome it carries (set per request by middleware.RequestContext)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from topicserve.errors import InvalidInput, TopicServeError
from topicserve.redact import redact

log = logging.getLogger(__name__)

_request_id: ContextVar[str | None] = ContextVar("topicserve_request_id", default=None)
# The error code a request was answered with, for the access log and metrics: a mutable holder set
# by RequestContext, filled by error_body (a holder, so it is seen whatever context the answer ran in).
_outcome: ContextVar[dict | None] = ContextVar("topicserve_outcome", default=None)


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
