"""How the gateway reaches the embedder, topics and state: one async call shape for all.

In Serve the gateway gets `HandleClient`s (deployments/handles.py); in tests and notebooks it gets
`LocalClient`s around the same Ray-free objects, so the whole HTTP API runs without Ray.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any


class LocalClient:
    """Calls methods of an in-process object; sync ones run in a thread, like a replica would."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str):
        method = getattr(self._target, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if inspect.iscoroutinefunction(method):
                return await method(*args, **kwargs)
            return await asyncio.to_thread(method, *args, **kwargs)

        return call
