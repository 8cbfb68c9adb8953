"""Ingress deployment: the FastAPI app of topicserve.api, talking to the others through handles."""

from __future__ import annotations

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.handles import Admission, HandleClient
from deployments.metrics import replica_metrics
from topicserve.api import build_app
from topicserve.embedroute import RoutedEmbedder, embed_units
from topicserve.gateway import Gateway
from topicserve.settings import Settings, get_settings

STARTUP_TIMEOUT_S = 600.0


def model_copy(settings: Settings):
    """The in-ingress copy of the Embedder's model: same model, device setting and backend (settings)."""
    from topicserve.embedding import Embedder  # torch / onnxruntime: imported in the loading thread

    threads = settings.ingress_embed_threads or settings.torch_threads or 1
    return Embedder(settings.embedding_model, settings.embedding_device, threads=threads)


@serve.deployment(
    name="Ingress",
    ray_actor_options={"num_cpus": 0.25},
    # Async and cheap per request: a high ongoing limit lets it answer rejections (JSON 503) fast.
    # Past the queue, Ray's proxy answers a plain-text 503 itself (docs/operations.md).
    max_ongoing_requests=64,
    max_queued_requests=64,
    backpressure_config={"status_code": 503, "retry_after_s": 1},
)
@serve.ingress()
class Ingress:
    # Ray Serve awaits an async constructor; mypy insists __init__ returns None.
    async def __init__(self, embedder: DeploymentHandle, topics: DeploymentHandle, state: DeploymentHandle) -> None:  # type: ignore[misc]
        settings = get_settings()
        timeout = settings.handle_timeout_s
        admission = Admission(settings.max_texts_in_flight, cost=embed_units, methods={"embed"})
        clients = (
            HandleClient(embedder, timeout_s=STARTUP_TIMEOUT_S, admission=admission),
            HandleClient(topics, timeout_s=STARTUP_TIMEOUT_S),
            HandleClient(state, timeout_s=STARTUP_TIMEOUT_S),
        )
        self.metrics = replica_metrics()
        # Requests of a few texts are embedded here when the copy is idle (topicserve/embedroute.py).
        routed = RoutedEmbedder(
            clients[0], settings.ingress_embed_max_texts, load=lambda: model_copy(settings), metrics=self.metrics
        )
        self.gateway = Gateway(routed, clients[1], clients[2], metrics=self.metrics)
        # Binds the store to the embedder's space: a store built with another model fails the
        # deployment here, with both models named in `serve status`. These first calls may wait
        # for the other deployments' replicas to load their model: a startup deadline, not the
        # per-request one.
        await self.gateway.startup()
        for client in clients:
            client.timeout_s = timeout
        # After start-up, in the background: readiness does not wait for the copy (cold start).
        routed.start_loading(await clients[0].info())

    def __serve_build_asgi_app__(self):
        # The Serve proxy sets X-Request-ID; requests and rejections are counted in Prometheus metrics.
        return build_app(self.gateway, behind_serve=True, metrics=self.metrics)
