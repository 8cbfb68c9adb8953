"""Typed request and response models of the HTTP API, with their limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from topicserve.evaluation import EvalReport, ItemResult, Metrics
from topicserve.settings import get_settings
from topicserve.taxonomy import Label
from topicserve.topics import TopicsConfig, TopicScore

_settings = get_settings()
MAX_ITEMS = _settings.max_items
MAX_CHARS = _settings.max_text_chars


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_CHARS), AfterValidator(_not_blank)]
DocId = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_not_blank)]


def _utc(value: datetime | None) -> datetime | None:
    """Naive timestamps are taken as UTC; all are stored as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


# ---- /v1/embeddings (OpenAI-compatible) ------------------------------------------------------
class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_ITEMS)]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    dimensions: int
    usage: Usage


# ---- documents ------------------------------------------------------------------------------
class DocumentIn(Strict):
    id: DocId
    text: Text
    timestamp: Timestamp | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class IngestRequest(Strict):
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_ITEMS)

    @field_validator("documents")
    @classmethod
    def _unique_ids(cls, docs: list[DocumentIn]) -> list[DocumentIn]:
        seen: set[str] = set()
        for doc in docs:
            if doc.id in seen:
                raise ValueError(f"duplicate id {doc.id!r} in one batch")
            seen.add(doc.id)
        return docs


class IngestedDocument(BaseModel):
    id: str
    topics: list[TopicScore]


class IngestResponse(BaseModel):
    ingested: int
    documents: list[IngestedDocument]
    model: str


class DocumentOut(BaseModel):
    id: str
    text: str
    timestamp: datetime
    metadata: dict[str, Any]
    topics: list[TopicScore]


# ---- document management (store issue 10): delete, list ---------------------------------------
class DeleteRequest(Strict):
    """Delete by ``ids``, or by a filter (``topic``, ``since``, ``until``); not both, never empty."""

    ids: list[DocId] | None = Field(None, min_length=1, max_length=10 * MAX_ITEMS)
    topic: str | None = Field(None, min_length=1, max_length=200)
    since: Timestamp | None = None
    until: Timestamp | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> DeleteRequest:
        has_filter = any(v is not None for v in (self.topic, self.since, self.until))
        if self.ids is None and not has_filter:
            raise ValueError("give ids, or a filter with topic, since or until (an empty filter would delete all)")
        if self.ids is not None and has_filter:
            raise ValueError("give ids or a filter, not both")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class DeleteResponse(BaseModel):
    deleted: int


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last one.")


# ---- search ---------------------------------------------------------------------------------
class SearchRequest(Strict):
    query: Text
    k: int = Field(10, ge=1, le=_settings.max_k)
    topic: str | None = Field(None, min_length=1, max_length=200)
    since: Timestamp | None = None
    until: Timestamp | None = None
    mode: Literal["vector", "keyword", "hybrid"] = Field(
        "vector", description="vector (embeddings), keyword (full-text, BM25) or hybrid (reciprocal rank fusion)."
    )


class SearchResult(DocumentOut):
    score: float


class SearchResponse(BaseModel):
    results: list[SearchResult]
    model: str


# ---- topics ---------------------------------------------------------------------------------
class TopicsRequest(Strict):
    texts: list[Text] = Field(min_length=1, max_length=MAX_ITEMS)
    labels: list[Label] | None = Field(None, min_length=1, max_length=200)
    top_k: int | None = Field(None, ge=1, le=50)
    threshold: float | None = Field(None, ge=-1.0, le=1.0, description="Overrides the configured threshold.")


class TopicsResult(BaseModel):
    topics: list[TopicScore]
    candidates: list[TopicScore] = Field(
        default_factory=list, description="LLM labels that matched no taxonomy topic (candidate topics)."
    )
    source: str = Field("zeroshot", description="zeroshot | llm | zeroshot-fallback")


class TopicsResponse(BaseModel):
    results: list[TopicsResult]
    backend: str
    taxonomy: str
    prompt: str | None = Field(None, description="Prompt template (name-vN) used by an LLM backend.")
    calibration: str | None = None
    degraded: bool = Field(False, description="True when some texts fell back from the LLM to the taxonomy.")
    fallback_reason: str | None = None


# ---- trends ---------------------------------------------------------------------------------
class TrendPoint(BaseModel):
    start: datetime
    count: int


class Trend(BaseModel):
    topic: str
    score: float
    recent_count: int
    baseline_count: int
    expected_count: float
    lift: float = Field(0.0, description="(recent + 1) / (expected + 1)")
    series: list[TrendPoint] = Field(default_factory=list)
    candidate: bool = Field(False, description="A topic found by discovery, not (yet) in the taxonomy.")
    name: str | None = Field(None, description="Candidates: a name given by the LLM backend, when one is set.")
    keywords: list[str] = Field(default_factory=list, description="Candidates: c-TF-IDF keywords.")
    examples: list[str] = Field(default_factory=list, description="Candidates: documents closest to the centre.")
    promote_as: Label | None = Field(None, description="Candidates: paste into the Topics user_config `promote:`.")


class TrendsResponse(BaseModel):
    trending: list[Trend]
    topics: list[Trend]
    candidates: list[Trend] = Field(default_factory=list)
    unmatched_documents: int = 0
    window: str
    baseline: str
    bin: str
    min_count: int = 2
    now: datetime
    method: str


# ---- evaluate -------------------------------------------------------------------------------
class EvalItem(Strict):
    text: Text
    human_topics: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=50)
    label: str | None = Field(None, min_length=1, max_length=200, description="One human topic (AG News style).")

    @model_validator(mode="after")
    def _has_topics(self) -> EvalItem:
        if not self.human_topics and not self.label:
            raise ValueError("each item needs human_topics or label")
        return self


class EvaluateRequest(Strict):
    items: list[EvalItem] = Field(min_length=1, max_length=MAX_ITEMS)
    against: TopicsConfig | None = Field(
        None, description="A second Topics configuration (other prompt, other taxonomy) to compare with."
    )


EvalItemResult = ItemResult  # one model for a scored item, shared with the evaluation CLI


class EvaluateResponse(BaseModel):
    items: list[EvalItemResult]
    mean_best_match_cosine: float
    mean_f1: float
    metrics: Metrics
    config: dict = Field(default_factory=dict)
    degraded: bool = False
    fallback_reason: str | None = None
    table: str = Field("", description="The vibe-check and metrics tables as Markdown.")
    against: EvalReport | None = Field(None, description="The same evaluation under the `against` configuration.")
