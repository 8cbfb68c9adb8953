"""Feedback, the Ray-free logic: confirmed examples as label prototypes, and evaluation items.

Confirmed and added (document, topic) pairs are examples of that label: the centroid of their
stored vectors is blended into the label's mean vector (topic_prototypes.LabelPrototypes.mean,
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

from topicserve import schemas as s
from topicserve.errors import InvalidInput
from topicserve.evaluation import EvalItem
from topicserve.store.feedback import FeedbackItemIn, FeedbackRecord, current
from topicserve.topic_prototypes import LabelPrototypes, unit

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


# ---- the request path (called by the gateway) --------------------------------------------------
def resolve_topics(req: s.FeedbackRequest, labels: Sequence[str]) -> list[FeedbackItemIn]:
    """The request's verdicts with each topic as configured (case-insensitive); 422 naming the field."""
    known = {label.lower(): label for label in labels}
    resolved = []
    for n, item in enumerate(req.all_items()):
        label = known.get(item.topic.lower())
        if label is None:
            shown = ", ".join(sorted(known.values())[:20]) + (", ..." if len(known) > 20 else "")
            where = "topic" if req.items is None else f"items.{n}.topic"
            raise InvalidInput(f"{where}: {item.topic!r} is not a configured topic (one of: {shown})", field=where)
        resolved.append(FeedbackItemIn(topic=label, verdict=item.verdict, note=item.note))
    return resolved


def as_response(doc_id: str, records: Sequence[FeedbackRecord], posted: bool) -> s.FeedbackResponse:
    out = [s.FeedbackOut.model_validate(r.model_dump()) for r in records]
    latest = {} if posted else {r.topic: r.verdict for r in current(records)}
    return s.FeedbackResponse(document_id=doc_id, stored=len(out) if posted else 0, feedback=out, current=latest)


def feedback_items(docs: Sequence[dict]) -> list[EvalItem]:
    """Evaluation items from the documents with feedback: gold = their confirmed/added topics."""
    return [EvalItem(text=d["text"], human_topics=d["positive"]) for d in docs if d["positive"]]


def rejected_summary(docs: Sequence[dict], given: Sequence[Sequence[str]]) -> s.FeedbackEvaluation:
    """How many rejected (document, topic) pairs the model still tags, given its topics per document."""
    rejected = still = 0
    for doc, topics in zip(docs, given, strict=True):
        tagged = {t.lower() for t in topics}
        rejected += len(doc["rejected"])
        still += sum(r.lower() in tagged for r in doc["rejected"])
    return s.FeedbackEvaluation(
        documents=len(docs),
        positive_items=sum(bool(d["positive"]) for d in docs),
        rejected=rejected,
        rejected_still_given=still,
        rejected_rate=still / rejected if rejected else None,
    )
