"""The small error set. Raised anywhere in topicserve; mapped to HTTP once, at the ingress.

Every error answers ``{"error": {"code", "message", "field", ...}}``: ``code`` is stable and
machine-readable, ``message`` is for the person reading it and never carries storage URIs, file
paths, tokens or raw exception text, ``field`` names the request field at fault (or is null).
``type`` repeats ``code`` so OpenAI-style clients, which read ``error.type``, understand it too.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TopicServeError(Exception):
    """Base class: a message for the person reading it, an HTTP status, and optional details."""

    status = 500
    code = "internal_error"
    headers: ClassVar[dict[str, str] | None] = None

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field, "type": self.code}
        body.update(self.details)
        return {"error": body}

    def __reduce__(self):  # keep message/field/details across Ray's pickling of exceptions
        return (_rebuild, (type(self), self.message, self.field, self.details))


def _rebuild(cls: type[TopicServeError], message: str, field: str | None, details: dict) -> TopicServeError:
    return cls(message, field=field, **details)


class InvalidInput(TopicServeError):
    status = 422
    code = "invalid_input"


class Unauthorized(TopicServeError):
    """No or a wrong API key (``TOPICSERVE_API_KEY`` is set on the server)."""

    status = 401
    code = "unauthorized"
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class NotFound(TopicServeError):
    status = 404
    code = "not_found"


class ModelMismatch(TopicServeError):
    """The query/ingest vectors come from another embedding space than the stored index."""

    status = 409
    code = "embedding_space_mismatch"


class PayloadTooLarge(TopicServeError):
    status = 413
    code = "payload_too_large"


class UpstreamError(TopicServeError):
    status = 502
    code = "upstream_error"


class NotReady(TopicServeError):
    status = 503
    code = "not_ready"


class Overloaded(TopicServeError):
    """A queue is full: the request was refused at once, nothing was done. Retry after a while."""

    status = 503
    code = "overloaded"
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "1"}


class StoreUnavailable(TopicServeError):
    """A write (or read) of the store failed; for writes, nothing of the batch was stored."""

    status = 503
    code = "store_unavailable"
    headers: ClassVar[dict[str, str] | None] = {"Retry-After": "1"}


class Timeout(TopicServeError):
    """A backend (deployment, LLM) did not answer in time."""

    status = 504
    code = "timeout"
