"""Topics deployment: assigns topics; taxonomy and thresholds change live through `user_config`."""

from __future__ import annotations

import numpy as np
from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.handles import HandleClient
from topicserve.settings import get_settings
from topicserve.topics import TopicModel, TopicsConfig
from topicserve.topics.examples import FeedbackExamples


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
        timeout = get_settings().handle_timeout_s
        self._embedder = HandleClient(embedder, timeout_s=timeout)
        feedback = None
        if state is not None:  # confirmed feedback examples, read from the writer when they change
            writer = HandleClient(state, timeout_s=timeout)
            feedback = FeedbackExamples(writer.feedback_generation, writer.feedback_examples)
        self.model = TopicModel(self._embed, feedback=feedback)

    async def _embed(self, texts: list[str]) -> np.ndarray:
        return await self._embedder.embed(texts)

    def reconfigure(self, config: dict) -> None:
        self.model.configure(TopicsConfig.model_validate(config))

    async def assign(self, texts, vectors, labels=None, top_k=None):
        return await self.model.assign(texts, vectors, labels, top_k)

    async def assign_detailed(self, texts, vectors, labels=None, top_k=None, threshold=None, override=None):
        # `override` is a caller's TopicsOverride (labels, threshold, top_k, calibration, prompt name),
        # never a TopicsConfig: the backend, files, LLM endpoint and model stay this replica's own.
        return await self.model.assign_detailed(texts, vectors, labels, top_k, threshold, override)

    async def name_clusters(self, clusters):
        return await self.model.name_clusters(clusters)

    def info(self, override=None) -> dict:
        return self.model.info(override)
