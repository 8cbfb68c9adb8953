"""Topics deployment: assigns topics; taxonomy and thresholds change live through `user_config`.

With ``refine_from_store`` (default) it refines the zero-shot scores from the store's own documents
(topicserve/topics/refine.py): at most every ``REFRESH_CHECK_S`` it asks State how many documents
it holds, and when that is at least the refinement's ``min_pool`` and has doubled since the last
pool, it takes a new bounded sample of stored vectors, in the background (never in a request's way).
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.handles import HandleClient
from topicserve.settings import get_settings
from topicserve.topics import TopicModel, TopicsConfig

log = logging.getLogger(__name__)
REFRESH_CHECK_S = 30.0  # how often the store's size is checked (one count query)


@serve.deployment(
    name="Topics",
    ray_actor_options={"num_cpus": 0.25},
    # Scores vectors it is given (cheap); embeds only labels, once. Bounded like every deployment.
    max_ongoing_requests=32,
    max_queued_requests=32,
    user_config=TopicsConfig().model_dump(exclude_none=True),
)
class Topics:
    def __init__(self, embedder: DeploymentHandle, state: DeploymentHandle | None = None) -> None:
        self._embedder = HandleClient(embedder, timeout_s=get_settings().handle_timeout_s)
        self._state = None if state is None else HandleClient(state, timeout_s=get_settings().handle_timeout_s)
        self.model = TopicModel(self._embed)
        self._checked = -REFRESH_CHECK_S
        self._refreshing: asyncio.Task | None = None

    async def _embed(self, texts: list[str]) -> np.ndarray:
        return await self._embedder.embed(texts)

    def reconfigure(self, config: dict) -> None:
        self.model.configure(TopicsConfig.model_validate(config))

    def _maybe_refresh(self) -> None:
        """Start a background pool refresh when one is due (cheap when not)."""
        now = time.monotonic()
        if self._state is None or not self.model.config.refine_from_store or now - self._checked < REFRESH_CHECK_S:
            return
        if self._refreshing is None or self._refreshing.done():
            self._checked = now
            self._refreshing = asyncio.create_task(self.refresh_pool())

    async def refresh_pool(self) -> str | None:
        """Take a new pool from the store when it is due; the taxonomy's refinement id after it."""
        refiner = self.model.refiner
        if self._state is None:
            return None
        try:
            count, vectors = await self._state.sample_vectors(refiner.params.max_pool, refiner.next_count())
            if vectors is not None and refiner.wants(count):
                found = await self.model.set_pool(np.asarray(vectors, np.float32), count)
                log.info("topic refinement re-estimated from %d of %d stored documents: %s", len(vectors), count, found)
        except Exception as exc:  # the store may be busy or down: keep the current refinement
            log.warning("topic refinement refresh failed: %s: %s", type(exc).__name__, exc)
        return self.model.refinement_id()

    async def assign(self, texts, vectors, labels=None, top_k=None):
        self._maybe_refresh()
        return await self.model.assign(texts, vectors, labels, top_k)

    async def assign_detailed(
        self, texts, vectors, labels=None, top_k=None, threshold=None, override=None, pool_from_batch=False
    ):
        # `override` is a caller's TopicsOverride (labels, threshold, top_k, calibration, prompt name),
        # never a TopicsConfig: the backend, files, LLM endpoint and model stay this replica's own.
        self._maybe_refresh()
        return await self.model.assign_detailed(texts, vectors, labels, top_k, threshold, override, pool_from_batch)

    async def name_clusters(self, clusters):
        return await self.model.name_clusters(clusters)

    def info(self, override=None) -> dict:
        return self.model.info(override)
