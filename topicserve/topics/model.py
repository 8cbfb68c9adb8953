"""The topic model the Topics deployment wraps: the taxonomy, the live config and a backend from the
registry. Backends sit behind one interface (base.py) and are built on demand (registry.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from topicserve.taxonomy import Label
from topicserve.topics.base import Assignment, BackendContext, EmbedFn, TopicBackend, TopicScore
from topicserve.topics.config import DecisionRule, TopicsConfig, TopicsOverride
from topicserve.topics.registry import build_backend
from topicserve.topics.vectors import LabelVectors


class TopicModel:
    """The taxonomy, the live config and a backend: what the Topics deployment wraps."""

    def __init__(self, embed: EmbedFn, config: TopicsConfig | None = None, *, label_vectors=None) -> None:
        self.context = BackendContext(embed, label_vectors or LabelVectors(embed))
        self.configure(config or TopicsConfig())

    @property
    def embed(self) -> EmbedFn:
        return self.context.embed

    @property
    def label_vectors(self) -> LabelVectors:
        return self.context.label_vectors

    def configure(self, config: TopicsConfig) -> None:
        taxonomy = config.load_taxonomy()  # validate before swapping anything in
        backend: TopicBackend = build_backend(config, self.context)
        self.config, self.taxonomy, self.backend = config, taxonomy, backend

    def variant(self, config: TopicsConfig) -> TopicModel:
        """Another configuration sharing this one's embeddings and loaded models (for comparisons)."""
        other = TopicModel.__new__(TopicModel)
        other.context = self.context
        other.configure(config)
        return other

    def overridden(self, override: TopicsOverride | dict) -> TopicModel:
        """This configuration with a caller's overrides (validated again here: it may come over Ray)."""
        return self.variant(TopicsOverride.model_validate(override).apply(self.config))

    def info(self, override: TopicsOverride | dict | None = None) -> dict:
        """What this model runs (or, given ``override``, what it would run with those overrides)."""
        if override is not None:
            return self.overridden(override).info()
        return {
            "backend": self.backend.name,
            "prompt": self.backend.prompt,
            "taxonomy": self.taxonomy.name,
            "taxonomy_version": self.taxonomy.version,
            "labels": self.taxonomy.labels,
            "threshold": self.config.threshold,
            "top_k": self.config.top_k,
            "calibration": self.config.calibration,
            "pooling": self.config.pooling,
            "rule": DecisionRule.of(self.config).name(self.config.threshold),
            "min_confidence": self.config.min_confidence,
        }

    async def assign_detailed(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        labels: Sequence[Label] | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
        override: TopicsOverride | dict | None = None,
    ) -> Assignment:
        """Topics for each text, with candidates and provenance. Custom ``labels`` replace the
        taxonomy, ``override`` changes what a caller may change (see TopicsOverride), for this call only."""
        if override is not None:
            return await self.overridden(override).assign_detailed(texts, vectors, labels, top_k, threshold)
        if len(texts) == 0:
            return Assignment(results=[], backend=self.backend.name, prompt=self.backend.prompt)
        return await self.backend.assign(
            texts,
            vectors,
            list(labels) if labels else self.taxonomy.topics,
            top_k or self.config.top_k,
            self.config.threshold if threshold is None else threshold,
        )

    async def assign(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        labels: Sequence[Label] | None = None,
        top_k: int | None = None,
    ) -> list[list[TopicScore]]:
        """Taxonomy topics for each text (what the store keeps)."""
        return [r.topics for r in (await self.assign_detailed(texts, vectors, labels, top_k)).results]

    async def name_clusters(self, clusters: list[dict]) -> list[str | None]:
        """An LLM name for each discovered cluster ({"keywords", "examples"}); None without an LLM."""
        namer = getattr(self.backend, "name_clusters", None)
        return await namer(clusters) if namer else [None] * len(clusters)
