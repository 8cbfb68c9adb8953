"""Feedback as label examples (issue 13 section 4): confirmed documents move their label's prototypes.

Confirmed and added (document, topic) pairs are examples of that label: the centroid of their
stored vectors is blended into the label's mean vector (prototypes.LabelPrototypes.mean,
weight EXAMPLE_WEIGHT) and the label's background statistics are re-estimated, so the z-scale
stays calibrated. Measured on AG News dev (docs/quality.md, "Feedback"): this beat adding each
example as a prototype of its own (which lowered top-1 with 5-10 examples per class), and rejected
pairs used as negative prototypes lowered top-1 by 6-30 points, so rejections are not used for
tagging (they are the negatives of /evaluate on feedback). The examples are fetched from the
writer only when its feedback generation moved.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np

from topicserve.taxonomy import Label
from topicserve.topics.prototypes import LabelPrototypes, unit
from topicserve.topics.vectors import reference_sentences

log = logging.getLogger(__name__)
Examples = dict[str, np.ndarray]  # label (lower-cased) -> (n, dim) document vectors
# Chosen on AG News dev (bench/feedback_prototypes.py, docs/quality.md): 0.5 and 0.8 within 0.5 points.
EXAMPLE_WEIGHT = 0.5


def with_examples(
    protos: LabelPrototypes, examples: np.ndarray, background: np.ndarray, pooling: str
) -> LabelPrototypes:
    """``protos`` with the label's mean vector moved halfway to the centroid of ``examples``, and the
    background statistics re-estimated (so the z-scale and the confidence stay calibrated)."""
    if len(examples) == 0:
        return protos
    centroid = unit(np.asarray(examples, dtype=np.float32).mean(axis=0))
    mean = unit((1.0 - EXAMPLE_WEIGHT) * protos.mean + EXAMPLE_WEIGHT * centroid).astype(np.float32)
    draft = LabelPrototypes(mean, protos.prototypes, 0.0, 1.0)
    ref = draft.pooled(background, pooling)
    return LabelPrototypes(mean, protos.prototypes, float(ref.mean()), max(float(ref.std()), 1e-3))


class FeedbackExamples:
    """The writer's current examples, re-fetched only when its feedback generation moved.

    ``generation`` and ``fetch`` are the writer's calls (State.feedback_generation and
    State.feedback_examples, or the in-process store's); a failing writer keeps the last examples
    (tagging never fails because feedback could not be read). Prototypes with examples are cached
    per generation, so a tagging call between two feedback writes costs one generation read.
    """

    def __init__(self, generation: Callable[[], Awaitable[Any]], fetch: Callable[[int], Awaitable[Examples]]) -> None:
        self._generation_fn, self._fetch = generation, fetch
        self.generation: Any = None
        self.examples: Examples = {}
        self._cache: dict[tuple, LabelPrototypes] = {}

    async def current(self, per_label: int) -> tuple[Any, Examples]:
        try:
            generation = (await self._generation_fn(), per_label)
            if generation != self.generation:
                fetched = await self._fetch(per_label)
                self.examples = {k.lower(): np.asarray(v, np.float32) for k, v in fetched.items()}
                self.generation, self._cache = generation, {}
        except Exception as exc:
            log.warning("feedback examples could not be read (%s); using the last ones", type(exc).__name__)
        return self.generation, self.examples

    async def prototypes(
        self,
        labels: Sequence[Label],
        protos: Sequence[LabelPrototypes],
        eligible: set[str],
        label_vectors: Any,
        pooling: str,
        per_label: int,
    ) -> list[LabelPrototypes]:
        """``protos`` with the examples of the labels in ``eligible`` (by `Label.key`: the configured ones)."""
        generation, examples = await self.current(per_label)
        if not examples:
            return list(protos)
        background = await label_vectors.vectors(list(reference_sentences()))
        out = []
        for label, p in zip(labels, protos, strict=True):
            found = examples.get(label.label.lower())
            if found is None or label.key() not in eligible:
                out.append(p)
                continue
            key = (generation, label.key(), pooling)
            if key not in self._cache:
                self._cache[key] = with_examples(p, found, background, pooling)
            out.append(self._cache[key])
        return out
