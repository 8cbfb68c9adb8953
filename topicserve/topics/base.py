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
    from topicserve.topics.examples import FeedbackExamples
    from topicserve.topics.expand import LabelExpander
    from topicserve.topics.refine import Refiner
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
    vectors, the chat models already loaded (keyed by backend and LLM config), the pool of
    unlabelled documents the zero-shot scores are refined from (refine.py; None: no refinement) and
    the LLM label expansions known so far (expand.py)."""

    embed: EmbedFn
    label_vectors: LabelVectors
    chat_models: dict[str, ChatModel] = field(default_factory=dict)
    feedback: FeedbackExamples | None = None  # confirmed examples from the writer (topics/examples.py)
    refiner: Refiner | None = None
    expander: LabelExpander | None = None


# (config, context, labels): ``labels`` are the taxonomy's labels as the model uses them (LLM
# expansions included), default the config's own; the configured labels learn from feedback.
BackendFactory = Callable[["TopicsConfig", BackendContext, "Sequence[Label] | None"], TopicBackend]
