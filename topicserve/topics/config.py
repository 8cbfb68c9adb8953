"""The Topics deployment's configuration (`TopicsConfig`), what a caller may override for one call
(`TopicsOverride`), and the decision knobs of the zero-shot rule (`DecisionRule`, rules.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from topicserve.inputs import StrictModel
from topicserve.llm.base import LLMConfig
from topicserve.llm.prompts import PromptName
from topicserve.taxonomy import Label, RequestLabels, Taxonomy, load_taxonomy
from topicserve.topics.rules import (
    DEFAULT_MARGIN,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_NONE_SCORE,
    DEFAULT_SECOND,
    DEFAULT_TEMPERATURE,
    describe,
)

Rule = Literal["confidence", "threshold"]
Calibration = Literal["none", "reference", "zscore"]


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
    margin: float = Field(
        DEFAULT_MARGIN,
        ge=0.0,
        le=1.0,
        description="confidence rule: tag a text only when its best label beats the runner-up, or the runner-up "
        "beats 'none of these', with this pairwise probability (0: no such test; docs/quality.md).",
    )
    second: float = Field(
        DEFAULT_SECOND,
        ge=0.0,
        le=1.0,
        description="confidence rule: keep a topic after the first only when it beats 'none of these' pairwise "
        "with this probability, on the confidences after the store's neighbours' vote (0: no such test).",
    )
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
    refine_from_store: bool = Field(
        True,
        description="Refine the zero-shot scores by pseudo-label centroids of the store's own documents "
        "(a bounded sample of >= 500, re-estimated when the store has doubled; topics/refine.py). No labels are "
        "used. Only texts like the stored documents are refined (a gate on the closeness to them): AG News dev "
        "top-1 0.821 -> 0.849, labels of another domain and off-topic texts about as without (docs/quality.md).",
    )
    refine_neighbours: bool = Field(
        True,
        description="With refine_from_store: move a text's z-scores toward the mean of its 10 nearest stored "
        "documents' (weight 0.7 x how often stored documents' neighbours share their best label, as far as the "
        "gate lets the text be refined; topics/refine.py). AG News dev top-1 0.849 -> 0.862, off-topic texts and "
        "labels of another domain as without (docs/quality.md).",
    )
    llm: LLMConfig = Field(
        default_factory=LLMConfig, description="Used by the openai/transformers backends and by expand_labels."
    )
    expand_labels: bool = Field(
        False,
        description="Labels with at most 3 texts of their own get 3 paraphrases and 5 example documents from the "
        "configured LLM (llm.expand_prompt), after their own; once per label, cached in memory and under "
        "TOPICSERVE_LABEL_EXPANSIONS_DIR. In the background: the unexpanded labels serve until they land "
        "(topics/expand.py; /readyz topics info says which labels are expanded, pending or failed).",
    )
    expand_client: Literal["auto", "openai", "transformers"] = Field(
        "auto", description="expand_labels' LLM client; auto: the LLM backend's own, openai with backend zeroshot."
    )
    use_feedback: bool = Field(
        True, description="Confirmed/added feedback moves each taxonomy label toward its examples (topics/examples.py)."
    )
    feedback_examples: int = Field(50, ge=1, le=1000, description="Newest confirmed examples used per label.")

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
    margin: float | None = Field(None, ge=0.0, le=1.0)
    second: float | None = Field(None, ge=0.0, le=1.0)
    prompt: PromptName | None = Field(None, description="A prompt in topicserve/prompts/; used by LLM backends only.")
    use_feedback: bool | None = Field(None, description="With or without the feedback examples (compare both).")

    def apply(self, base: TopicsConfig) -> TopicsConfig:
        """``base`` (the server's configuration) with these overrides."""
        plain = ("threshold", "top_k", "calibration", "rule", "min_confidence", "margin", "second", "use_feedback")
        update: dict = {k: getattr(self, k) for k in plain if getattr(self, k) is not None}
        if self.labels is not None:
            update.update(taxonomy=list(self.labels), taxonomy_path="", promote=[])
        if self.prompt is not None and base.backend != "zeroshot":
            update["llm"] = base.llm.model_copy(update={"prompt": self.prompt})
        return base.model_copy(update=update)


class DecisionRule(BaseModel):
    """The decision knobs of a TopicsConfig (rules.py)."""

    rule: str = "confidence"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    temperature: float = DEFAULT_TEMPERATURE
    none_score: float = DEFAULT_NONE_SCORE
    margin: float = DEFAULT_MARGIN
    second: float = DEFAULT_SECOND

    @classmethod
    def of(cls, config: TopicsConfig) -> DecisionRule:
        knobs = {"rule", "min_confidence", "temperature", "none_score", "margin", "second"}
        return cls(**config.model_dump(include=knobs))

    def name(self, threshold: float | None) -> str:
        return describe(
            self.rule, self.temperature, self.none_score, self.min_confidence, threshold, self.margin, self.second
        )
