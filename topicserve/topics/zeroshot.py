"""The zero-shot backend: texts scored against label prototypes, the decision rule keeps the
confident topics.

Each label is scored against its prototypes (description, paraphrases, examples, keywords; pooled as
in prototypes.py) and normalised against the bundled neutral sentences
(topicserve/data/reference_sentences.txt); the decision rule (rules.py) turns those scores into a
confidence in [0, 1] per topic and keeps the confident ones, best ``top_k`` first. ``score`` is the
pooled score on the ``calibration`` scale: ``zscore`` (default: background spreads above the
background mean), ``reference`` (minus the background mean, the earlier default) or ``none`` (the
pooled cosine). With a pool of unlabelled documents (the store's, or a large evaluation batch), the
scores are refined by pseudo-label centroids first and (``refine_neighbours``) smoothed with the
z-scores of the text's nearest pool documents, whose vote then weighs each confidence (refine.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from topicserve.taxonomy import Label
from topicserve.topics.base import Assignment, BackendContext, TextTopics, TopicScore
from topicserve.topics.config import DecisionRule, TopicsConfig
from topicserve.topics.examples import FeedbackExamples
from topicserve.topics.prototypes import LabelPrototypes, score_matrix
from topicserve.topics.refine import Refinement, Refiner
from topicserve.topics.rules import confidences, decisive, keep, select
from topicserve.topics.vectors import LabelVectors, reference_sentences


@dataclass(frozen=True)
class Scored:
    """(docs x labels) scores on the calibration scale and the background z-scores the rule uses
    (refined, as far as the gate lets each text, when a refinement applies)."""

    scores: np.ndarray
    z: np.ndarray
    vote: np.ndarray | None = None  # the store's neighbours' vote on each label (refine.py), or None


class ZeroShotScorer:
    """(docs x labels) scores on the ``calibration`` scale, and the background z-scores the rule uses."""

    def __init__(
        self,
        label_vectors: LabelVectors,
        calibration: str = "zscore",
        pooling: str = "prototypes",
        feedback: tuple[FeedbackExamples, set[str], int] | None = None,
        refiner: Refiner | None = None,
        smooth: bool = True,
    ) -> None:
        self.label_vectors, self.calibration, self.pooling = label_vectors, calibration, pooling
        self.feedback = feedback  # (examples, keys of the configured labels, examples per label)
        self.refiner, self.smooth = refiner, smooth  # smooth: the nearest stored documents' z-scores too

    def refinement_key(self, labels: Sequence[Label]) -> tuple:
        return (self.pooling, *(label.key() for label in labels))

    async def refinement(self, labels: Sequence[Label], protos: list[LabelPrototypes]) -> Refinement | None:
        """The labels' pseudo-label refinement from the refiner's pool (None: no refiner, no pool, or
        a pool that gives these labels nothing)."""
        if self.refiner is None or self.refiner.pool is None:
            return None
        background = await self.label_vectors.vectors(list(reference_sentences()))
        return self.refiner.get(
            self.refinement_key(labels), lambda v: score_matrix(v, protos, self.pooling), background
        )

    async def scored(self, vectors: np.ndarray, labels: Sequence[Label]) -> Scored:
        protos = await self.label_vectors.prototypes(labels, self.pooling)
        if self.feedback is not None:
            examples, eligible, per_label = self.feedback
            protos = await examples.prototypes(labels, protos, eligible, self.label_vectors, self.pooling, per_label)
        raw = score_matrix(vectors, protos, self.pooling)
        mean = np.array([p.background_mean for p in protos], dtype=np.float32)
        std = np.array([p.background_std for p in protos], dtype=np.float32)
        refinement, vote = await self.refinement(labels, protos), None
        if refinement is not None:  # gated (refine.py)
            raw, mean, std, vote = refinement.apply_with_vote(vectors, raw, mean, std, self.smooth)
        z = (raw - mean) / std
        scores = {"none": raw, "reference": raw - mean}.get(self.calibration, z)
        return Scored(scores, z, vote)

    async def scores(self, vectors: np.ndarray, labels: Sequence[Label]) -> np.ndarray:
        return (await self.scored(vectors, labels)).scores


class ZeroShotBackend:
    name = "zeroshot"
    prompt = None

    def __init__(self, scorer: ZeroShotScorer, rule: DecisionRule | None = None) -> None:
        self.scorer, self.rule = scorer, rule or DecisionRule()

    async def decide(self, vectors, labels, top_k, threshold) -> list[list[TopicScore]]:
        """The kept topics of each text, with score and confidence."""
        return (await self.decide_with_nearest(vectors, labels, top_k, threshold))[0]

    async def decide_with_nearest(
        self, vectors, labels, top_k, threshold
    ) -> tuple[list[list[TopicScore]], list[TopicScore]]:
        """The kept topics of each text and its nearest label (the best score, kept or not), from one
        scoring: the same prototypes, feedback and refinement for both."""
        scored = await self.scorer.scored(vectors, labels)
        r, scores = self.rule, scored.scores
        conf = confidences(scored.z, r.temperature, r.none_score)
        if scored.vote is not None:
            conf = conf * scored.vote
        decided = decisive(conf, scored.z, r.margin, r.temperature, r.none_score)
        kept = keep(scores, conf, r.rule, top_k, threshold, r.min_confidence, decided, r.second)
        names = [label.label for label in labels]
        best = np.argmax(scores, axis=1)[:, None].tolist() if len(scores) else []
        topics, nearest = select(names, scores, conf, kept), select(names, scores, conf, best)
        as_scores = lambda rows: [[TopicScore(label=n, score=s, confidence=c) for n, s, c in row] for row in rows]  # noqa: E731
        return as_scores(topics), [row[0] for row in as_scores(nearest)]

    async def assign(self, texts, vectors, labels, top_k, threshold) -> Assignment:
        ranked = await self.decide(vectors, labels, top_k, threshold)
        results = [TextTopics(topics=t) for t in ranked]
        return Assignment(results=results, backend=self.name, rule=self.rule.name(threshold))


def build_zeroshot_backend(
    config: TopicsConfig, context: BackendContext, labels: Sequence[Label] | None = None
) -> ZeroShotBackend:
    """``labels``: the taxonomy's labels as the model uses them (LLM expansions included; default the
    config's own): they learn from feedback."""
    feedback = None
    if config.use_feedback and context.feedback is not None:  # the configured labels learn from feedback
        keys = {label.key() for label in (config.load_taxonomy().topics if labels is None else labels)}
        feedback = (context.feedback, keys, config.feedback_examples)
    refiner = context.refiner if config.refine_from_store else None
    scorer = ZeroShotScorer(
        context.label_vectors, config.calibration, config.pooling, feedback, refiner, config.refine_neighbours
    )
    return ZeroShotBackend(scorer, DecisionRule.of(config))
