"""`Client`: the HTTP API of topicserve as Python calls, with bounded retries and the API key.

Retries are urllib3's ``Retry`` (through a requests adapter), not a loop of our own: it retries
503 and 429 at most ``retries`` times, sleeping what ``Retry-After`` says (capped at
``retry_after_max`` seconds) or an exponential backoff when the header is absent. POSTs are
retried too: the service refuses overloaded requests before doing anything, and ingest is
idempotent on document ids. Connection errors are retried twice; read timeouts are not (the
request may still be running).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from topicserve.redact import redact, strip_userinfo

RETRY_STATUSES = (429, 503)


class ApiError(Exception):
    """The service answered with an error: ``{"error": {"code", "message", "field", ...}}``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.details = status, code, message, field, details
        self.note = ""  # what the caller adds, e.g. how much of a file was ingested before the error

    @classmethod
    def from_response(cls, resp: requests.Response) -> ApiError:
        try:
            body = resp.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):  # not the service's format (a proxy, Serve's own 503...)
            text = resp.text.strip()[:200] or resp.reason
            return cls(resp.status_code, "http_error", text)
        known = {"code", "type", "message", "field"}
        details = {k: v for k, v in error.items() if k not in known}
        code = error.get("code") or error.get("type") or "error"
        return cls(resp.status_code, code, str(error.get("message", resp.reason)), error.get("field"), **details)

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.status < 500

    def __str__(self) -> str:
        field = f" (field: {self.field})" if self.field else ""
        return f"HTTP {self.status} {self.code}: {self.message}{field}"


def _given(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class ClientError(Exception):
    """The service could not be reached or did not answer in time."""


def retry_policy(retries: int, retry_after_max: float, backoff_factor: float) -> Retry:
    return Retry(
        total=retries,
        connect=min(2, retries),
        read=0,
        status=retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # every method, POST included (see the module docstring)
        backoff_factor=backoff_factor,
        backoff_max=10,
        respect_retry_after_header=True,
        retry_after_max=int(retry_after_max),
        raise_on_status=False,  # after the last try, hand back the response: its error body says why
    )


class Client:
    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        retries: int = 5,
        timeout: float = 300.0,
        retry_after_max: float = 30.0,
        backoff_factor: float = 0.5,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry_policy(retries, retry_after_max, backoff_factor))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["Accept"] = "application/json"
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self._secrets = [api_key] if api_key else []

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call; an error status raises ApiError, an unreachable service ClientError."""
        where = strip_userinfo(self.url)
        try:
            resp = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise ClientError(f"{where}{path} did not answer within {self.timeout:g}s") from None
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {where}: {self._reason(exc)}") from None
        if resp.status_code >= 400:
            raise ApiError.from_response(resp)
        return resp

    def _reason(self, exc: requests.RequestException) -> str:
        """The innermost cause ("Connection refused"), without urllib3's pool and URL noise."""
        inner = getattr(exc.args[0], "reason", None) if exc.args else None
        text = str(inner or exc).split("): ", 1)[-1]
        return redact(text, self._secrets)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict:
        return self.request(method, path, **kwargs).json()

    # ---- the API -----------------------------------------------------------------------------
    def ready(self) -> dict:
        return self._json("GET", "/readyz")

    def ingest(self, documents: list[dict]) -> dict:
        return self._json("POST", "/documents", json={"documents": documents})

    def document(self, doc_id: str) -> dict:
        return self._json("GET", f"/documents/{requests.utils.quote(doc_id, safe='')}")

    def search(self, query: str, k: int = 10, **filters: Any) -> dict:
        return self._json("POST", "/search", json={"query": query, "k": k, **_given(filters)})

    def topics(self, texts: list[str], **options: Any) -> dict:
        return self._json("POST", "/topics", json={"texts": texts, **_given(options)})

    def trends(self, **params: Any) -> dict:
        return self._json("GET", "/trends", params=_given(params))

    def evaluate(self, items: list[dict]) -> dict:
        return self._json("POST", "/evaluate", json={"items": items})
