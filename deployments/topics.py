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
from topicserve.tagging import Tagged, model_version, tag
from topicserve.topics import TopicModel, TopicsConfig
from topicserve.topics.examples import FeedbackExamples

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
    def __init__(self, embedder: DeploymentHandle) -> None:
        self._timeout = get_settings().handle_timeout_s
        self._embedder = HandleClient(embedder, timeout_s=self._timeout)
        self._writer: HandleClient | None = None
        # Confirmed feedback examples, read from the State (the writer) when they change.
        feedback = FeedbackExamples(
            lambda: self._state().feedback_generation(), lambda n: self._state().feedback_examples(n)
        )
        self.model = TopicModel(self._embed, feedback=feedback)
        self._checked = -REFRESH_CHECK_S
        self._refreshing: asyncio.Task | None = None

    def _state(self) -> HandleClient:
        # The State binds Topics (it re-tags through it), so Topics cannot bind the State back (a
        # Serve app is a DAG of binds): it looks the writer up by name, in its own app, on first use.
        # Outside an app (no State), the call fails and FeedbackExamples keeps tagging without examples.
        if self._writer is None:
            app = serve.get_replica_context().app_name
            self._writer = HandleClient(serve.get_deployment_handle("State", app), timeout_s=self._timeout)
        return self._writer

    async def _embed(self, texts: list[str]) -> np.ndarray:
        return await self._embedder.embed(texts)

    async def reconfigure(self, config: dict) -> None:
        # async: on the replica's event loop, where the LLM label expansion (expand_labels) starts its
        # background task; reconfigure itself never waits for the LLM (topics/expand.py).
        self.model.configure(TopicsConfig.model_validate(config))

    async def tag(self, texts, vectors) -> Tagged:
        """What the store keeps: topics, nearest labels and the taxonomy version they belong to."""
        return await tag(self.model, texts, vectors)

    async def version(self) -> str:
        """The taxonomy version of the live config (the State re-tags stored documents to it)."""
        return model_version(self.model)

    def _maybe_refresh(self) -> None:
        """Start a background pool refresh when one is due (cheap when not)."""
        now = time.monotonic()
        if not self.model.config.refine_from_store or now - self._checked < REFRESH_CHECK_S:
            return
        if self._refreshing is None or self._refreshing.done():
            self._checked = now
            self._refreshing = asyncio.create_task(self.refresh_pool())

    async def refresh_pool(self) -> str | None:
        """Take a new pool from the store when it is due; the taxonomy's refinement id after it."""
        refiner = self.model.refiner
        try:
            count, vectors = await self._state().sample_vectors(refiner.params.max_pool, refiner.next_count())
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
        info = self.model.info(override)
        return info if override is not None else info | {"version": model_version(self.model)}
