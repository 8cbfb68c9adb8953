"""Deployment handles behind the same async call shape as topicserve.clients.LocalClient."""

from __future__ import annotations

from typing import Any

from ray.serve.handle import DeploymentHandle


class HandleClient:
    def __init__(self, handle: DeploymentHandle) -> None:
        self._handle = handle

    def __getattr__(self, name: str):
        method = getattr(self._handle, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await method.remote(*args, **kwargs)

        return call
