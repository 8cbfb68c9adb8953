"""Topic assignment, Ray-free.

The default backend is zero-shot: cosine similarity between a document vector and the vectors of
"label: description" for each taxonomy topic, kept when above ``threshold``, best ``top_k`` first.
Backends share one interface (`TopicBackend`), so an LLM backend can sit beside this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from topicserve.taxonomy import Label, Taxonomy, load_taxonomy

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]


class TopicScore(BaseModel):
    label: str
    score: float


class TopicsConfig(BaseModel):
    """The Topics deployment's `user_config`: applied live through `reconfigure`, no restart."""

    backend: Literal["zeroshot"] = "zeroshot"
    taxonomy: list[Label] | None = Field(None, description="Inline topics; overrides taxonomy_path.")
    taxonomy_path: str = Field("", description="Taxonomy YAML inside the working dir; empty: default.")
    threshold: float = Field(0.15, ge=-1.0, le=1.0)
    top_k: int = Field(3, ge=1, le=50)

    def load_taxonomy(self) -> Taxonomy:
        if self.taxonomy is not None:
            return load_taxonomy([t.model_dump() for t in self.taxonomy])
        return load_taxonomy(self.taxonomy_path or None)


class TopicBackend(Protocol):
    name: str

    async def assign(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        labels: Sequence[Label],
        top_k: int,
        threshold: float,
    ) -> list[list[TopicScore]]: ...


class LabelVectors:
    """Embeds label prompts once and keeps them; a taxonomy change only embeds the new labels."""

    def __init__(self, embed: EmbedFn) -> None:
        self._embed = embed
        self._cache: dict[str, np.ndarray] = {}

    async def matrix(self, labels: Sequence[Label]) -> np.ndarray:
        prompts = [label.prompt() for label in labels]
        missing = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        if missing:
            for prompt, vector in zip(missing, await self._embed(missing), strict=True):
                self._cache[prompt] = np.asarray(vector, dtype=np.float32)
        return np.stack([self._cache[p] for p in prompts])


def rank(scores: np.ndarray, labels: Sequence[Label], top_k: int, threshold: float) -> list[list[TopicScore]]:
    """Per row of a (docs x labels) score matrix: labels above threshold, best first, at most top_k."""
    out = []
    for row in np.atleast_2d(scores):
        order = np.argsort(-row, kind="stable")[:top_k]
        out.append(
            [TopicScore(label=labels[j].label, score=round(float(row[j]), 6)) for j in order if row[j] >= threshold]
        )
    return out


class ZeroShotBackend:
    name = "zeroshot"

    def __init__(self, label_vectors: LabelVectors) -> None:
        self._labels = label_vectors

    async def assign(self, texts, vectors, labels, top_k, threshold):
        matrix = await self._labels.matrix(labels)
        return rank(np.asarray(vectors, dtype=np.float32) @ matrix.T, labels, top_k, threshold)


class TopicModel:
    """The taxonomy, the live config and a backend: what the Topics deployment wraps."""

    def __init__(self, embed: EmbedFn, config: TopicsConfig | None = None) -> None:
        self.label_vectors = LabelVectors(embed)
        self.configure(config or TopicsConfig())

    def configure(self, config: TopicsConfig) -> None:
        taxonomy = config.load_taxonomy()  # validate before swapping anything in
        self.config, self.taxonomy = config, taxonomy
        self.backend: TopicBackend = ZeroShotBackend(self.label_vectors)

    def info(self) -> dict:
        return {
            "backend": self.backend.name,
            "taxonomy": self.taxonomy.name,
            "taxonomy_version": self.taxonomy.version,
            "labels": self.taxonomy.labels,
            "threshold": self.config.threshold,
            "top_k": self.config.top_k,
        }

    async def assign(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        labels: Sequence[Label] | None = None,
        top_k: int | None = None,
    ) -> list[list[TopicScore]]:
        """Topics for each text. Custom ``labels`` replace the taxonomy for this call only."""
        if len(texts) == 0:
            return []
        return await self.backend.assign(
            texts,
            vectors,
            list(labels) if labels else self.taxonomy.topics,
            top_k or self.config.top_k,
            self.config.threshold,
        )
