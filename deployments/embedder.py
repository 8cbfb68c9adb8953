"""Embedder deployment: sentence-transformers with dynamic batching (`@serve.batch`)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import numpy as np
from pydantic import BaseModel, Field
from ray import serve

from deployments.metrics import replica_metrics
from topicserve.embedding import Embedder as EmbeddingModel
from topicserve.embedding.startup import StartupMarks, import_backend_modules, now, process_started_at
from topicserve.settings import get_settings

# Start-up marks of this replica process (bench/coldstart.py reads them from /readyz).
_MODULE_IMPORTED = now()

log = logging.getLogger(__name__)


class EmbedderConfig(BaseModel):
    """`user_config` of the Embedder: batching knobs, applied live in `reconfigure`."""

    max_batch_size: int = Field(8, ge=1, le=1024)
    # 0: no waiting for more requests; batches form from what queued while the model was busy.
    batch_wait_timeout_s: float = Field(0.0, ge=0.0, le=5.0)


def replica_cpus() -> int:
    """The CPUs Ray reserved for this replica (``num_cpus``): torch/onnxruntime threads by default."""
    import ray

    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


@serve.deployment(
    name="Embedder",
    # = max_batch_size, so one batch can fill; what waits beyond that is bounded by the queue.
    # Sized in docs/operations.md (bench/overload.py): 8 + 8 requests of 16 texts is a few seconds
    # of work on 2 CPU cores; the ingress's admission limit bounds requests of many or long texts.
    max_ongoing_requests=8,
    max_queued_requests=8,
    ray_actor_options={"num_cpus": 1, "num_gpus": 0},
    user_config=EmbedderConfig().model_dump(),
)
class Embedder:
    def __init__(self) -> None:
        marks = StartupMarks(process_started=process_started_at(), module_imported=_MODULE_IMPORTED, init_started=now())
        settings = get_settings()
        threads = settings.torch_threads or replica_cpus()
        import_backend_modules(settings.embedding_backend)
        marks.libraries_imported = now()
        self.model = EmbeddingModel(settings.embedding_model, settings.embedding_device, threads=threads)
        marks.model_loaded = now()
        # One batch before the replica takes traffic: lazy kernel/allocator set-up costs the first
        # batch several times a normal one, and it is paid here instead of by the first caller.
        self.model.embed(["warm-up"])
        marks.first_batch_done = now()
        self.startup = marks
        self.watchdog_s = settings.embed_watchdog_s
        self._batch_started: float | None = None  # monotonic start of the running batch
        self._last_failure: str | None = None  # exception type of the last failed batch
        self.metrics = replica_metrics()

    def reconfigure(self, config: dict) -> None:
        cfg = EmbedderConfig.model_validate(config)
        # serve.batch's overloads type the wrapper as a plain Callable; at runtime it has these setters.
        self._batched.set_max_batch_size(cfg.max_batch_size)  # type: ignore[attr-defined]
        self._batched.set_batch_wait_timeout_s(cfg.batch_wait_timeout_s)  # type: ignore[attr-defined]

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.0)
    async def _batched(self, requests: list[tuple[float, list[str]]]) -> list[np.ndarray]:
        """Each request is (monotonic time it was queued, its texts)."""
        flat = [text for _, texts in requests for text in texts]
        self._batch_started = time.monotonic()
        self.metrics.embed_batch(len(flat), [self._batch_started - queued for queued, _ in requests])
        try:
            # Off the event loop, so health checks and new requests are served during a batch.
            vectors = await asyncio.to_thread(self.model.embed, flat)
        except Exception as exc:
            self._last_failure = type(exc).__name__
            raise
        finally:
            self._batch_started = None
        self._last_failure = None
        bounds = np.cumsum([0] + [len(texts) for _, texts in requests])
        return [vectors[a:b] for a, b in itertools.pairwise(bounds)]

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await self._batched((time.monotonic(), list(texts)))

    async def check_health(self) -> None:
        """Serve calls this every few seconds; raising replaces the replica. It never waits for a batch.

        Healthy while a batch runs (unless it has run past the watchdog: a hung device) and while
        idle after a good batch. Only after a failed batch, and only when idle, does it embed a probe
        text: a model that cannot embed any more (a CUDA error) is replaced, one bad batch is not.
        """
        started = self._batch_started
        if started is not None:
            if time.monotonic() - started > self.watchdog_s:
                raise RuntimeError(f"an embedding batch has run for over {self.watchdog_s:g} s")
            return
        if self._last_failure is not None:
            log.warning("last batch failed (%s): probing the model", self._last_failure)
            await asyncio.to_thread(self.model.embed, ["ok"])
            self._last_failure = None

    def info(self) -> dict:
        return self.model.info() | {"startup": self.startup.model_dump() | self.startup.phases()}
