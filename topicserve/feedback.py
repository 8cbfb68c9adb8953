"""Feedback, the Ray-free logic: confirmed examples as label prototypes, and evaluation items.

Confirmed and added (document, topic) pairs become extra prototypes of that label: the document's
stored vector joins the label's prototype vectors (topic_prototypes.LabelPrototypes), and the
label's background statistics are re-estimated with it, so the z-scale stays honest. Rejected
pairs are not used as prototypes (docs/quality.md, "Feedback", says what was measured). The
examples are fetched from the writer only when its feedback generation moved.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from topicserve.topic_prototypes import LabelPrototypes

log = logging.getLogger(__name__)
Examples = dict[str, np.ndarray]  # label (lower-cased) -> (n, dim) document vectors


def with_examples(
    protos: LabelPrototypes, examples: np.ndarray, background: np.ndarray, pooling: str
) -> LabelPrototypes:
    """``protos`` with ``examples`` as extra prototypes and the background statistics re-estimated."""
    if len(examples) == 0:
        return protos
    vectors = np.vstack([protos.prototypes, np.asarray(examples, dtype=np.float32)])
    draft = LabelPrototypes(protos.mean, vectors, 0.0, 1.0)
    ref = draft.pooled(background, pooling)
    return LabelPrototypes(protos.mean, vectors, float(ref.mean()), max(float(ref.std()), 1e-3))


class FeedbackExamples:
    """The writer's current examples, re-fetched only when its feedback generation moved.

    ``generation`` and ``fetch`` are the writer's calls (State.feedback_generation and
    State.feedback_examples, or the in-process store's); a failing writer keeps the last examples
    (tagging never fails because feedback could not be read).
    """

    def __init__(
        self, generation: Callable[[], Awaitable[Any]], fetch: Callable[[int], Awaitable[Examples]], per_label: int
    ) -> None:
        self._generation_fn, self._fetch, self.per_label = generation, fetch, per_label
        self.generation: Any = None
        self.examples: Examples = {}

    async def current(self) -> tuple[Any, Examples]:
        try:
            generation = await self._generation_fn()
            if generation != self.generation:
                self.examples = {
                    k.lower(): np.asarray(v, np.float32) for k, v in (await self._fetch(self.per_label)).items()
                }
                self.generation = generation
        except Exception as exc:
            log.warning("feedback examples could not be read (%s); using the last ones", type(exc).__name__)
        return self.generation, self.examples


def apply_examples(
    labels: Sequence[Any], protos: Sequence[LabelPrototypes], examples: Examples, background: np.ndarray, pooling: str
) -> list[LabelPrototypes]:
    """Each label's prototypes with its examples (labels matched case-insensitively)."""
    return [
        with_examples(p, examples[label.label.lower()], background, pooling) if label.label.lower() in examples else p
        for label, p in zip(labels, protos, strict=True)
    ]
