"""Topic assignment, Ray-free.

The default backend is zero-shot. Each label is scored against its prototypes (description,
paraphrases, examples, keywords; pooled as in topic_prototypes.py) and normalised against the
bundled neutral sentences (topicserve/data/reference_sentences.txt); the decision rule
(topic_rules.py) turns those scores into a confidence in [0, 1] per topic and keeps the confident
ones, best ``top_k`` first. ``score`` is the pooled score on the ``calibration`` scale: ``zscore``
(default: background spreads above the background mean), ``reference`` (minus the background mean,
the earlier default) or ``none`` (the pooled cosine). The LLM backends
(topicserve/llm/backend.py) sit beside this one behind the same `TopicBackend` interface and fall
back to it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from topicserve.inputs import StrictModel
from topicserve.llm.base import LLMConfig
from topicserve.llm.prompts import PromptName
from topicserve.settings import get_settings
from topicserve.taxonomy import Label, RequestLabels, Taxonomy, load_taxonomy
from topicserve.topic_prototypes import LabelPrototypes, build_prototypes, prototype_texts, score_matrix
from topicserve.topic_rules import (
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_NONE_SCORE,
    DEFAULT_TEMPERATURE,
    confidences,
    describe,
    keep,
    select,
)

Rule = Literal["confidence", "threshold"]
Calibration = Literal["none", "reference", "zscore"]
EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]
REFERENCE_PATH = Path(__file__).parent / "data" / "reference_sentences.txt"


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


class TopicsConfig(BaseModel):
    """The Topics deployment's `user_config`: applied live through `reconfigure`, no restart."""

    backend: Literal["zeroshot", "openai", "transformers"] = "zeroshot"
    taxonomy: list[Label] | None = Field(None, description="Inline topics; overrides taxonomy_path.")
    taxonomy_path: str = Field("", description="Taxonomy YAML inside the working dir; empty: default.")
    promote: list[Label] = Field(
        default_factory=list, description="Topics added to the taxonomy, e.g. candidates found by discovery."
    )
    rule: Rule = Field(
        "confidence",
        description="confidence: min_confidence on the calibrated confidence; "
        "threshold: the first rule, score >= threshold.",
    )
    min_confidence: float = Field(DEFAULT_MIN_CONFIDENCE, ge=0.0, le=1.0)
    temperature: float = Field(DEFAULT_TEMPERATURE, gt=0.0, le=100.0, description="Softmax temperature (z units).")
    none_score: float = Field(
        DEFAULT_NONE_SCORE, ge=-20.0, le=50.0, description="Score of 'none of these', in background spreads."
    )
    threshold: float | None = Field(
        None, ge=-100.0, le=100.0, description="A floor on `score`; default: none (confidence), 0.2 (threshold)."
    )
    top_k: int = Field(2, ge=1, le=50)
    calibration: Calibration = Field(
        "zscore",
        description="The `score` scale: zscore (background spreads), reference (minus the background "
        "mean) or none (pooled cosine).",
    )
    pooling: Literal["prototypes", "mean"] = Field(
        "prototypes", description="prototypes: mean vector mixed with a softmax over prototypes; mean: one vector."
    )
    llm: LLMConfig = Field(default_factory=LLMConfig, description="Used by the openai/transformers backends.")

    def load_taxonomy(self) -> Taxonomy:
        if self.taxonomy is not None:
            base = load_taxonomy([t.model_dump() for t in self.taxonomy])
        else:
            base = load_taxonomy(self.taxonomy_path or None)
        if not self.promote:
            return base
        merged = {t.label.lower(): t for t in base.topics}
        for label in self.promote:
            merged[label.label.lower()] = label
        return load_taxonomy(
            {
                "name": base.name,
                "version": f"{base.version}+{len(self.promote)}",
                "topics": [t.model_dump() for t in merged.values()],
            }
        )


class TopicsOverride(StrictModel):
    """What a caller may change for one call (``/evaluate``'s ``against``): what a /topics request may
    carry, and the *name* of a prompt shipped in topicserve/prompts/. Everything else (backend, taxonomy
    files, LLM endpoint, model, key) comes only from the server's own `TopicsConfig`."""

    labels: RequestLabels | None = Field(None, description="Inline topics replacing the taxonomy.")
    threshold: float | None = Field(None, ge=-100.0, le=100.0)
    top_k: int | None = Field(None, ge=1, le=50)
    calibration: Calibration | None = None
    rule: Rule | None = None
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)
    prompt: PromptName | None = Field(None, description="A prompt in topicserve/prompts/; used by LLM backends only.")

    def apply(self, base: TopicsConfig) -> TopicsConfig:
        """``base`` (the server's configuration) with these overrides."""
        plain = ("threshold", "top_k", "calibration", "rule", "min_confidence")
        update: dict = {k: getattr(self, k) for k in plain if getattr(self, k) is not None}
        if self.labels is not None:
            update.update(taxonomy=list(self.labels), taxonomy_path="", promote=[])
        if self.prompt is not None and base.backend != "zeroshot":
            update["llm"] = base.llm.model_copy(update={"prompt": self.prompt})
        return base.model_copy(update=update)


@cache
def reference_sentences() -> tuple[str, ...]:
    lines = REFERENCE_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class LRU(OrderedDict):
    """A dict that keeps the ``size`` most recently used keys. (Ten lines of OrderedDict rather than a
    dependency: cachetools is not in the lock.)"""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_fresh(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class LabelVectors:
    """Embeds texts once and keeps the most recent ones (labels can come from requests, so the cache
    is bounded: ``label_cache_size``); a taxonomy change only embeds the new texts."""

    def __init__(self, embed: EmbedFn, size: int | None = None) -> None:
        self._embed = embed
        size = size or get_settings().label_cache_size
        self._cache: LRU = LRU(size)
        self._protos: LRU = LRU(size)

    async def vectors(self, texts: Sequence[str]) -> np.ndarray:
        found = {t: v for t in dict.fromkeys(texts) if (v := self._cache.get_fresh(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            for text, vector in zip(missing, await self._embed(missing), strict=True):
                found[text] = np.asarray(vector, dtype=np.float32)
                self._cache.put(text, found[text])
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    async def matrix(self, labels: Sequence[Label]) -> np.ndarray:
        """One L2-normalised row per label: the mean of the vectors of its texts."""
        rows = []
        for label in labels:
            mean = (await self.vectors(label.texts())).mean(axis=0)
            rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        return np.stack(rows).astype(np.float32)

    async def prototypes(self, labels: Sequence[Label], pooling: str) -> list[LabelPrototypes]:
        """Each label's prototype vectors and background statistics (cached by label texts and pooling)."""
        found = {k: p for label in labels if (p := self._protos.get_fresh(k := (label.key(), pooling))) is not None}
        missing = [label for label in labels if (label.key(), pooling) not in found]
        if missing:
            background = await self.vectors(list(reference_sentences()))
            for label in missing:
                texts, protos = await self.vectors(label.texts()), await self.vectors(prototype_texts(label))
                found[(label.key(), pooling)] = build_prototypes(label, texts, protos, background, pooling)
                self._protos.put((label.key(), pooling), found[(label.key(), pooling)])
        return [found[(label.key(), pooling)] for label in labels]


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


class DecisionRule(BaseModel):
    """The decision knobs of a TopicsConfig (topic_rules.py)."""

    rule: str = "confidence"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    temperature: float = DEFAULT_TEMPERATURE
    none_score: float = DEFAULT_NONE_SCORE

    @classmethod
    def of(cls, config: TopicsConfig) -> DecisionRule:
        return cls(**config.model_dump(include={"rule", "min_confidence", "temperature", "none_score"}))

    def name(self, threshold: float | None) -> str:
        return describe(self.rule, self.temperature, self.none_score, self.min_confidence, threshold)


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


class TopicBackend(Protocol):
    name: str

    @property
    def prompt(self) -> str | None: ...  # read-only: a backend may narrow it (None, or a prompt name)

    async def assign(
        self, texts: Sequence[str], vectors: np.ndarray, labels: Sequence[Label], top_k: int, threshold: float | None
    ) -> Assignment: ...  # threshold: a floor on `score`, or None (the confidence rule alone decides)


class TopicModel:
    """The taxonomy, the live config and a backend: what the Topics deployment wraps."""

    def __init__(self, embed: EmbedFn, config: TopicsConfig | None = None, *, label_vectors=None) -> None:
        self.embed = embed
        self.label_vectors = label_vectors or LabelVectors(embed)
        self._chat_models: dict[str, object] = {}
        self.configure(config or TopicsConfig())

    def configure(self, config: TopicsConfig) -> None:
        taxonomy = config.load_taxonomy()  # validate before swapping anything in
        scorer = ZeroShotScorer(self.label_vectors, config.calibration, config.pooling)
        backend: TopicBackend = ZeroShotBackend(scorer, DecisionRule.of(config))
        if config.backend != "zeroshot":
            from topicserve.llm.backend import build_llm_backend

            backend = build_llm_backend(config, scorer, self.embed, self._chat_models)
        self.config, self.taxonomy, self.scorer, self.backend = config, taxonomy, scorer, backend

    def variant(self, config: TopicsConfig) -> TopicModel:
        """Another configuration sharing this one's embeddings and loaded models (for comparisons)."""
        other = TopicModel.__new__(TopicModel)
        other.embed, other.label_vectors, other._chat_models = self.embed, self.label_vectors, self._chat_models
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
