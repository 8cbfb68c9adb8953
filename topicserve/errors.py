"""The small error set. Raised anywhere in topicserve; mapped to HTTP once, at the ingress."""

from __future__ import annotations

from typing import Any


class TopicServeError(Exception):
    """Base class: a message for the person reading it, an HTTP status, and optional details."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "type": self.code}
        if self.field is not None:
            body["field"] = self.field
        body.update(self.details)
        return {"error": body}

    def __reduce__(self):  # keep message/field/details across Ray's pickling of exceptions
        return (_rebuild, (type(self), self.message, self.field, self.details))


def _rebuild(cls: type[TopicServeError], message: str, field: str | None, details: dict) -> TopicServeError:
    return cls(message, field=field, **details)


class InvalidInput(TopicServeError):
    status = 422
    code = "invalid_input"


class PayloadTooLarge(TopicServeError):
    status = 413
    code = "payload_too_large"


class NotFound(TopicServeError):
    status = 404
    code = "not_found"


class ModelMismatch(TopicServeError):
    """The query/ingest vectors come from another embedding space than the stored index."""

    status = 409
    code = "embedding_space_mismatch"


class NotReady(TopicServeError):
    status = 503
    code = "not_ready"


class UpstreamError(TopicServeError):
    status = 502
    code = "upstream_error"
