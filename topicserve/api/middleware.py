"""The middleware, plain ASGI so it runs for every response, errors included: request ids and the
access log (RequestContext), the API key (ApiKey), the body limit (BodyLimit)."""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid

from topicserve.api.accesslog import access_log
from topicserve.api.errormap import _outcome, _request_id, as_error, error_response
from topicserve.errors import PayloadTooLarge, Unauthorized
from topicserve.metrics import NO_METRICS, Metrics
from topicserve.ui import is_public_path

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OPEN_PATHS = frozenset({"/healthz", "/readyz"})  # answer without an API key (probes)


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
