"""Embedder deployment: sentence-transformers with dynamic batching (`@serve.batch`)."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
from pydantic import BaseModel, Field
from ray import serve

from topicserve.embedding import Embedder as EmbeddingModel
from topicserve.settings import get_settings


class EmbedderConfig(BaseModel):
    """`user_config` of the Embedder: batching knobs, applied live in `reconfigure`."""

    max_batch_size: int = Field(32, ge=1, le=1024)
    batch_wait_timeout_s: float = Field(0.01, ge=0.0, le=5.0)


def replica_cpus() -> int:
    """The CPUs Ray reserved for this replica (``num_cpus``): torch/onnxruntime threads by default."""
    import ray

    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


@serve.deployment(
    name="Embedder",
    max_ongoing_requests=64,  # above max_batch_size, or batches never fill
    ray_actor_options={"num_cpus": 1, "num_gpus": 0},
    user_config=EmbedderConfig().model_dump(),
)
class Embedder:
    def __init__(self) -> None:
        settings = get_settings()
        threads = settings.torch_threads or replica_cpus()
        self.model = EmbeddingModel(settings.embedding_model, settings.embedding_device, threads=threads)

    def reconfigure(self, config: dict) -> None:
        cfg = EmbedderConfig.model_validate(config)
        self._batched.set_max_batch_size(cfg.max_batch_size)
        self._batched.set_batch_wait_timeout_s(cfg.batch_wait_timeout_s)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _batched(self, requests: list[list[str]]) -> list[np.ndarray]:
        flat = [text for texts in requests for text in texts]
        # Off the event loop, so health checks and new requests are served during a batch.
        vectors = await asyncio.to_thread(self.model.embed, flat)
        bounds = np.cumsum([0] + [len(texts) for texts in requests])
        return [vectors[a:b] for a, b in itertools.pairwise(bounds)]

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await self._batched(list(texts))

    def check_health(self) -> None:
        """Serve calls this every few seconds: a model that cannot embed (a CUDA error) is replaced."""
        self.model.embed(["ok"])

    def info(self) -> dict:
        return self.model.info()
