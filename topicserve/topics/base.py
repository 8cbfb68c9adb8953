"""The topic backend interface and the result types every backend returns.

A backend assigns topics to texts given their vectors and the labels to choose from
(`TopicBackend.assign`); it is built from a `TopicsConfig` and a `BackendContext` by a factory in
the registry (registry.py). The zero-shot backend (zeroshot.py) is the default, the LLM backend
(llm.py) asks a chat model and falls back to the zero-shot one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from pydantic import BaseModel, Field

from topicserve.taxonomy import Label

if TYPE_CHECKING:
    from topicserve.llm.base import ChatModel
    from topicserve.topics.config import TopicsConfig
    from topicserve.topics.vectors import LabelVectors

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]


class TopicScore(BaseModel):
    label: str
    score: float = Field(description="The pooled label score on the configured calibration scale.")
    confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Calibrated confidence that the text has this topic (zero-shot rule)."
    )


class TextTopics(BaseModel):
    """What one text got: taxonomy topics, free-form candidate topics, and which backend gave them."""

    topics: list[TopicScore]
    candidates: list[TopicScore] = Field(default_factory=list)
    source: str = "zeroshot"


class Assignment(BaseModel):
    results: list[TextTopics]
    backend: str
    rule: str | None = None
    prompt: str | None = None
    degraded: bool = False
    fallback_reason: str | None = None


class TopicBackend(Protocol):
    name: str

    @property
    def prompt(self) -> str | None: ...  # read-only: a backend may narrow it (None, or a prompt name)

    async def assign(
        self, texts: Sequence[str], vectors: np.ndarray, labels: Sequence[Label], top_k: int, threshold: float | None
    ) -> Assignment: ...  # threshold: a floor on `score`, or None (the confidence rule alone decides)


@dataclass
class BackendContext:
    """What backends built for one TopicModel share: the embedding function, the cached label
    vectors, and the chat models already loaded (keyed by backend and LLM config)."""

    embed: EmbedFn
    label_vectors: LabelVectors
    chat_models: dict[str, ChatModel] = field(default_factory=dict)


BackendFactory = Callable[["TopicsConfig", BackendContext], TopicBackend]
