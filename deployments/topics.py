"""Topics deployment: assigns topics; taxonomy and thresholds change live through `user_config`."""

from __future__ import annotations

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.handles import HandleClient
from topicserve.settings import get_settings
from topicserve.tagging import Tagged, model_version, tag
from topicserve.topics import TopicModel, TopicsConfig


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
        self._embedder = HandleClient(embedder, timeout_s=get_settings().handle_timeout_s)
        self.model = TopicModel(self._embed)

    async def _embed(self, texts: list[str]) -> np.ndarray:
        return await self._embedder.embed(texts)

    def reconfigure(self, config: dict) -> None:
        self.model.configure(TopicsConfig.model_validate(config))

    async def tag(self, texts, vectors) -> Tagged:
        """What the store keeps: topics, nearest labels and the taxonomy version they belong to."""
        return await tag(self.model, texts, vectors)

    async def version(self) -> str:
        """The taxonomy version of the live config (the State re-tags stored documents to it)."""
        return model_version(self.model)

    async def assign(self, texts, vectors, labels=None, top_k=None):
        return await self.model.assign(texts, vectors, labels, top_k)

    async def assign_detailed(self, texts, vectors, labels=None, top_k=None, threshold=None, override=None):
        # `override` is a caller's TopicsOverride (labels, threshold, top_k, calibration, prompt name),
        # never a TopicsConfig: the backend, files, LLM endpoint and model stay this replica's own.
        return await self.model.assign_detailed(texts, vectors, labels, top_k, threshold, override)

    async def name_clusters(self, clusters):
        return await self.model.name_clusters(clusters)

    def info(self, override=None) -> dict:
        info = self.model.info(override)
        return info if override is not None else info | {"version": model_version(self.model)}
