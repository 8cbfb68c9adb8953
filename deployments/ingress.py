"""Ingress deployment: the FastAPI app of topicserve.api, talking to the others through handles."""

from __future__ import annotations

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.handles import HandleClient
from topicserve.api import build_app
from topicserve.gateway import Gateway


@serve.deployment(name="Ingress", ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=100)
@serve.ingress()
class Ingress:
    async def __init__(self, embedder: DeploymentHandle, topics: DeploymentHandle, state: DeploymentHandle) -> None:
        self.gateway = Gateway(HandleClient(embedder), HandleClient(topics), HandleClient(state))
        # Binds the store to the embedder's space: a store built with another model fails the
        # deployment here, with both models named in `serve status`.
        await self.gateway.startup()

    def __serve_build_asgi_app__(self):
        return build_app(self.gateway, behind_serve=True)  # the Serve proxy sets X-Request-ID
