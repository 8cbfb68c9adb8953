"""Agreement between human and model topics: the vibe-check table and the offline metrics. Ray-free.

Input items are ``{"text", "human_topics": [...]}`` or ``{"text", "label"}`` (one human topic).

Metrics:
- Best-match cosine (BERTScore-style greedy matching) between the embeddings of the human and the
  model labels: each human label is matched to its most similar model label (recall side), each
  model label to its most similar human label (precision side); F1 combines them. Works for
  free-form labels too. ``best_match_cosine`` is the recall side. An item where the model gave no
  topic scores 0.
- Exact match, over the items whose human topics all come from the taxonomy in use: micro
  precision/recall/F1 of the label sets (case-insensitive) and accuracy = share of items whose
  top model topic is one of the human topics.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, ValidationError, model_validator

from topicserve.errors import InvalidInput
from topicserve.topics import Assignment, EmbedFn, TopicScore


class EvalItem(BaseModel):
    text: str = Field(min_length=1)
    human_topics: list[str] = Field(default_factory=list)
    label: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> EvalItem:
        if not self.text.strip():
            raise ValueError("text must not be empty")
        if self.label and self.label not in self.human_topics:
            self.human_topics = [*self.human_topics, self.label]
        self.human_topics = [h.strip() for h in self.human_topics if h.strip()]
        if not self.human_topics:
            raise ValueError("each item needs human_topics (a non-empty list) or label")
        return self


class ItemResult(BaseModel):
    text: str
    human_topics: list[str]
    model_topics: list[TopicScore]
    candidates: list[TopicScore] = Field(default_factory=list)
    best_match_cosine: float
    precision: float
    recall: float
    f1: float
    top1_correct: bool | None = None  # None when the human topics are not all taxonomy labels


class Metrics(BaseModel):
    items: int
    best_match_precision: float
    best_match_recall: float
    best_match_f1: float
    mean_best_match_cosine: float
    exact_items: int = Field(description="Items whose human topics all come from the taxonomy.")
    exact_precision: float | None = None
    exact_recall: float | None = None
    exact_f1: float | None = None
    accuracy: float | None = None
    no_topic_rate: float = Field(description="Share of items that got no topic at all.")


class EvalReport(BaseModel):
    name: str
    config: dict = Field(default_factory=dict)
    metrics: Metrics
    items: list[ItemResult]
    degraded: bool = False
    fallback_reason: str | None = None


def load_items(path: str | Path) -> list[EvalItem]:
    items = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(EvalItem.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise InvalidInput(f"{path}:{n}: {exc}", field="items") from None
    if not items:
        raise InvalidInput(f"{path} holds no items", field="items")
    return items


def best_match(human: np.ndarray, model: np.ndarray) -> dict[str, float]:
    """Label-set agreement from two row-normalised matrices (human labels, model labels)."""
    if len(human) == 0 or len(model) == 0:
        return {"best_match_cosine": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    sim = np.clip(human @ model.T, -1.0, 1.0)
    recall = float(sim.max(axis=1).mean())
    precision = float(sim.max(axis=0).mean())
    f1 = 0.0 if precision + recall <= 0 else 2 * precision * recall / (precision + recall)
    return {"best_match_cosine": recall, "precision": precision, "recall": recall, "f1": f1}


def _prf(hits: int, predicted: int, truth: int) -> tuple[float, float, float]:
    p = hits / predicted if predicted else 0.0
    r = hits / truth if truth else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_items(
    items: Sequence[EvalItem], assignment: Assignment, label_vectors: dict[str, np.ndarray], taxonomy: Sequence[str]
) -> tuple[list[ItemResult], Metrics]:
    known = {t.lower() for t in taxonomy}
    results, hits, predicted, truth, correct, exact_items = [], 0, 0, 0, 0, 0
    for item, got in zip(items, assignment.results, strict=True):
        human = np.stack([label_vectors[h] for h in item.human_topics])
        model = np.stack([label_vectors[t.label] for t in got.topics]) if got.topics else human[:0]
        top1 = None
        if all(h.lower() in known for h in item.human_topics):
            exact_items += 1
            h_set, m_set = {h.lower() for h in item.human_topics}, {t.label.lower() for t in got.topics}
            hits, predicted, truth = hits + len(h_set & m_set), predicted + len(m_set), truth + len(h_set)
            top1 = bool(got.topics) and got.topics[0].label.lower() in h_set
            correct += int(top1)
        results.append(
            ItemResult(
                text=item.text,
                human_topics=item.human_topics,
                model_topics=got.topics,
                candidates=got.candidates,
                top1_correct=top1,
                **best_match(human, model),
            )
        )
    p, r, f = _prf(hits, predicted, truth)
    metrics = Metrics(
        items=len(results),
        best_match_precision=float(np.mean([x.precision for x in results])),
        best_match_recall=float(np.mean([x.recall for x in results])),
        best_match_f1=float(np.mean([x.f1 for x in results])),
        mean_best_match_cosine=float(np.mean([x.best_match_cosine for x in results])),
        exact_items=exact_items,
        exact_precision=p if exact_items else None,
        exact_recall=r if exact_items else None,
        exact_f1=f if exact_items else None,
        accuracy=correct / exact_items if exact_items else None,
        no_topic_rate=float(np.mean([not x.model_topics for x in results])),
    )
    return results, metrics


AssignFn = Callable[[list[str], np.ndarray], Awaitable[Assignment]]


async def run_evaluation(
    items: Sequence[EvalItem],
    vectors: np.ndarray,
    assign: AssignFn,
    embed: EmbedFn,
    taxonomy: Sequence[str],
    *,
    name: str = "current",
    config: dict | None = None,
) -> EvalReport:
    """Assign topics to the items' texts and score them against the human topics."""
    assignment = await assign([i.text for i in items], vectors)
    labels = sorted(
        {h for i in items for h in i.human_topics} | {t.label for r in assignment.results for t in r.topics}
    )
    label_vectors = dict(zip(labels, np.asarray(await embed(labels), dtype=np.float32), strict=True))
    results, metrics = score_items(items, assignment, label_vectors, taxonomy)
    return EvalReport(
        name=name,
        config=config or {},
        metrics=metrics,
        items=results,
        degraded=assignment.degraded,
        fallback_reason=assignment.fallback_reason,
    )
