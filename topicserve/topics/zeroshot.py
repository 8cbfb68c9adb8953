"""The zero-shot backend: texts scored against label prototypes, the decision rule keeps the
confident topics.

Each label is scored against its prototypes (description, paraphrases, examples, keywords; pooled as
in prototypes.py) and normalised against the bundled neutral sentences
(topicserve/data/reference_sentences.txt); the decision rule (rules.py) turns those scores into a
confidence in [0, 1] per topic and keeps the confident ones, best ``top_k`` first. ``score`` is the
pooled score on the ``calibration`` scale: ``zscore`` (default: background spreads above the
background mean), ``reference`` (minus the background mean, the earlier default) or ``none`` (the
pooled cosine).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from topicserve.taxonomy import Label
from topicserve.topics.base import Assignment, BackendContext, TextTopics, TopicScore
from topicserve.topics.config import DecisionRule, TopicsConfig
from topicserve.topics.prototypes import score_matrix
from topicserve.topics.rules import confidences, keep, select
from topicserve.topics.vectors import LabelVectors


class ZeroShotScorer:
    """(docs x labels) scores on the ``calibration`` scale, and the background z-scores the rule uses."""

    def __init__(self, label_vectors: LabelVectors, calibration: str = "zscore", pooling: str = "prototypes") -> None:
        self.label_vectors, self.calibration, self.pooling = label_vectors, calibration, pooling

    async def score_and_z(self, vectors: np.ndarray, labels: Sequence[Label]) -> tuple[np.ndarray, np.ndarray]:
        protos = await self.label_vectors.prototypes(labels, self.pooling)
        raw = score_matrix(vectors, protos, self.pooling)
        mean = np.array([p.background_mean for p in protos], dtype=np.float32)
        z = (raw - mean) / np.array([p.background_std for p in protos], dtype=np.float32)
        scores = {"none": raw, "reference": raw - mean}.get(self.calibration, z)
        return scores, z

    async def scores(self, vectors: np.ndarray, labels: Sequence[Label]) -> np.ndarray:
        return (await self.score_and_z(vectors, labels))[0]


class ZeroShotBackend:
    name = "zeroshot"
    prompt = None

    def __init__(self, scorer: ZeroShotScorer, rule: DecisionRule | None = None) -> None:
        self.scorer, self.rule = scorer, rule or DecisionRule()

    async def decide(self, vectors, labels, top_k, threshold) -> list[list[TopicScore]]:
        """The kept topics of each text, with score and confidence."""
        scores, z = await self.scorer.score_and_z(vectors, labels)
        r = self.rule
        conf = confidences(z, r.temperature, r.none_score)
        kept = keep(scores, conf, r.rule, top_k, threshold, r.min_confidence)
        names = [label.label for label in labels]
        return [
            [TopicScore(label=n, score=s, confidence=c) for n, s, c in row] for row in select(names, scores, conf, kept)
        ]

    async def assign(self, texts, vectors, labels, top_k, threshold) -> Assignment:
        ranked = await self.decide(vectors, labels, top_k, threshold)
        results = [TextTopics(topics=t) for t in ranked]
        return Assignment(results=results, backend=self.name, rule=self.rule.name(threshold))


def build_zeroshot_backend(config: TopicsConfig, context: BackendContext) -> ZeroShotBackend:
    scorer = ZeroShotScorer(context.label_vectors, config.calibration, config.pooling)
    return ZeroShotBackend(scorer, DecisionRule.of(config))
