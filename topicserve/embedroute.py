"""Small embedding requests served next to the gateway, big ones by the Embedder deployment. Ray-free.

A single-text request through the Embedder deployment pays a second handle hop (the proxy's hop
into the ingress is the first) and the ``@serve.batch`` queue: about 10 ms on 2 cores against ~6 ms
of model time (docs/performance.md, "Request path, round 3"). ``RoutedEmbedder`` keeps a copy of
the same model (same backend, same files) in the ingress replica and embeds a request of at most
``max_units`` there, in a thread, when that copy is idle; anything larger, or anything arriving
while the copy is busy, goes to the Embedder deployment as before. So the copy only ever takes
latency-bound work: under load the deployment's replicas still do the batching and the throughput.

The copy loads in the background after start-up (``start_loading``), off the event loop: until it
is loaded, or if it fails to load, or if its embedding space is not the deployment's (the space
guard: same model, dimension, normalisation and backend), every request goes to the deployment.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from topicserve.metrics import NO_METRICS, Metrics
from topicserve.space import EmbeddingSpace

log = logging.getLogger(__name__)

# One unit of embedding work: a text, or each started 1,000 characters of a long one (about one
# 256-token model window, the unit the Embedder's time is spent on).
CHARS_PER_UNIT = 1000


def embed_units(texts: Sequence[str]) -> int:
    return sum(max(1, math.ceil(len(text) / CHARS_PER_UNIT)) for text in texts)


def same_vectors(mine: EmbeddingSpace, theirs: EmbeddingSpace) -> bool:
    """The copy may answer for the deployment only with the same vectors: same model, dimension,
    normalisation and backend (stricter than ``compatible``, which admits any gated backend)."""
    return mine.compatible(theirs) and mine.backend == theirs.backend


def _rss_mb() -> float:
    """Peak resident memory of this process (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RoutedEmbedder:
    """The gateway's embedder client: ``embed`` and ``info`` with the remote client's call shape."""

    def __init__(self, remote: Any, max_units: int, load: Callable[[], Any], metrics: Metrics = NO_METRICS) -> None:
        self.remote, self.max_units, self._load, self.metrics = remote, max_units, load, metrics
        self.local: Any = None  # the loaded copy (topicserve.embedding.Embedder), once it passed the guard
        self.state = "off" if max_units <= 0 else "not loaded"
        self.served_locally = 0
        self.memory_mb: float | None = None  # peak RSS added by loading the copy
        self._busy = False  # one call at a time on the copy (the event loop is single-threaded)
        self._task: asyncio.Task | None = None

    def start_loading(self, remote_info: dict) -> None:
        """Load the copy in a thread; it serves only if it makes the vectors the deployment (its
        ``info()``) makes: the same space and the same device (torch on a GPU runs fp16)."""
        if self.max_units <= 0 or self._task is not None:
            return
        if str(remote_info.get("device", "cpu")).startswith("cuda"):  # the Ingress has no GPU: not even loaded
            self.state = "refused: the Embedder runs on a GPU (fp16), this replica has none"
            log.warning("in-ingress embedder off: %s; TOPICSERVE_INGRESS_EMBED_MAX_TEXTS=0 says so", self.state)
            return
        self._task = asyncio.get_running_loop().create_task(self._load_checked(remote_info))

    async def _load_checked(self, remote_info: dict) -> None:
        self.state = "loading"
        before, started = _rss_mb(), time.perf_counter()
        try:
            local = await asyncio.to_thread(self._load)
        except Exception as exc:  # the deployment still serves everything
            self.state = f"failed: {type(exc).__name__}"
            log.warning("in-ingress embedder failed to load; all requests go to the Embedder", exc_info=True)
            return
        space = EmbeddingSpace.from_info(remote_info)
        if not same_vectors(local.space, space) or local.device != remote_info.get("device"):
            self.state = "refused: not the Embedder's space and device"
            log.warning("in-ingress embedder refused: %s on %s is not the Embedder's %s on %s",
                      local.space.describe(), local.device, space.describe(), remote_info.get("device"))  # fmt: skip
            return
        self.memory_mb = round(_rss_mb() - before, 1)
        self.local, self.state = local, "serving"
        log.info("in-ingress embedder loaded in %.1fs (+%.0f MB)", time.perf_counter() - started, self.memory_mb)

    async def wait_loaded(self) -> str:
        """The copy's state once its loading (if started) is over."""
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.state

    async def info(self) -> dict:
        """The deployment's info (its space is the one bound to the store), and this copy's status."""
        return await self.remote.info() | {"ingress_copy": self.status()}

    def status(self) -> dict:
        return {"state": self.state, "max_texts": self.max_units, "served": self.served_locally,
                "memory_mb": self.memory_mb}  # fmt: skip

    async def embed(self, texts: list[str]) -> np.ndarray:
        if self.local is None or self._busy or embed_units(texts) > self.max_units:
            return await self.remote.embed(texts)
        self._busy = True
        try:
            vectors = await asyncio.to_thread(self.local.embed, texts)  # off the event loop
        finally:
            self._busy = False
        self.served_locally += 1
        self.metrics.embed_batch(len(texts), [0.0])
        return vectors

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
