"""Deployment handles behind the same async call shape as topicserve.clients.LocalClient.

Every call has a deadline (``TOPICSERVE_HANDLE_TIMEOUT_S``) and Serve's own rejections become the
project's errors, so the ingress answers them in its JSON error format:
- ``ray.serve.exceptions.BackPressureError`` (a deployment's ``max_queued_requests`` is full; Ray
  2.60 raises it when the response is awaited, possibly wrapped in a ``RayTaskError`` that is also
  an instance of it) becomes ``Overloaded`` (503, Retry-After);
- no answer within the deadline becomes ``Timeout`` (504) and the request is cancelled downstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from topicserve.errors import Overloaded, Timeout

__all__ = ["Admission", "HandleClient"]


class Admission:
    """At most ``limit`` units of work in flight through this client; past that, ``Overloaded`` at once.

    Serve's queues count requests, and one request may carry 1 or 256 texts; this counts the work.
    A request larger than the whole limit is still admitted when nothing else is in flight, so
    every request that passes input validation can be served. In-process and single-threaded (the
    replica's event loop), so a plain counter is enough.
    """

    def __init__(self, limit: int, cost: Callable[..., int], methods: set[str]) -> None:
        self.limit, self.cost, self.methods = limit, cost, methods
        self.in_flight = 0

    def acquire(self, method: str, args: tuple) -> int:
        if method not in self.methods:
            return 0
        units = self.cost(*args)
        if self.in_flight and self.in_flight + units > self.limit:
            raise Overloaded(
                f"the service is at capacity ({self.in_flight} of {self.limit} texts in flight); retry shortly",
                retry_after_s=1,
            )
        self.in_flight += units
        return units

    def release(self, units: int) -> None:
        self.in_flight -= units


class HandleClient:
    def __init__(self, handle: DeploymentHandle, *, timeout_s: float, admission: Admission | None = None) -> None:
        self._handle = handle
        self.timeout_s = timeout_s  # public: the ingress gives its startup calls a longer deadline
        self._admission = admission

    def __getattr__(self, name: str):
        method = getattr(self._handle, name)
        deployment = self._handle.deployment_name

        async def call(*args: Any, **kwargs: Any) -> Any:
            admission = self._admission
            units = admission.acquire(name, args) if admission else 0
            try:
                return await self._call(method, deployment, name, args, kwargs)
            finally:
                if admission and units:
                    admission.release(units)

        # Made once per method: `handle.<name>` builds a new handle (options()) on every access.
        self.__dict__[name] = call
        return call

    async def _call(self, method, deployment: str, name: str, args: tuple, kwargs: dict) -> Any:
        response = None
        try:
            response = method.remote(*args, **kwargs)  # returns at once; routing happens on await
            return await asyncio.wait_for(_result(response), self.timeout_s)
        except TimeoutError:
            if response is not None:
                response.cancel()
            raise Timeout(f"{deployment}.{name} did not answer within {self.timeout_s:g} s") from None
        except BackPressureError:
            raise Overloaded(f"{deployment} is at capacity; retry shortly", retry_after_s=1) from None


async def _result(response) -> Any:
    return await response
