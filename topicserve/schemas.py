"""Typed request and response models of the HTTP API, with their limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from topicserve import token_ids
from topicserve.evaluation import EvalReport, ItemResult, Metrics
from topicserve.inputs import StrictModel, check_json_value
from topicserve.settings import get_settings
from topicserve.taxonomy import Label, RequestLabels
from topicserve.topics import TopicScore, TopicsOverride

_settings = get_settings()
MAX_ITEMS = _settings.max_items
MAX_CHARS = _settings.max_text_chars
MIN_YEAR, MAX_YEAR = 1970, 2200
ID_PATTERN = r"^[A-Za-z0-9._:@~-]+$"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def _not_only_dots(value: str) -> str:
    if set(value) == {"."}:
        raise ValueError("an id must not be only dots")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_CHARS), AfterValidator(_not_blank)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
# Ids are path segments of GET /documents/{id}: what can be stored can be fetched, unescaped.
DocId = Annotated[
    str,
    Field(min_length=1, max_length=256, pattern=ID_PATTERN, description="1-256 of A-Z a-z 0-9 . _ : @ ~ -"),
    AfterValidator(_not_only_dots),
]


def _timestamp(value: Any) -> datetime:
    """An ISO 8601 string with a UTC offset (or a datetime), years 1970..2200 in UTC; stored as UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            hint = " (in a URL query, write + as %2B)" if " " in value else ""
            raise ValueError(f"must be an ISO 8601 timestamp such as 2026-03-01T10:00:00Z{hint}") from None
    if not isinstance(value, datetime):
        raise ValueError("must be an ISO 8601 timestamp string such as 2026-03-01T10:00:00Z")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a timezone, e.g. 2026-03-01T10:00:00Z or +01:00 (the store keeps UTC)")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR} (in UTC)")
    return utc


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


def _until_after_since(until: datetime | None, info: ValidationInfo) -> datetime | None:
    """A field validator for ``until`` (``since`` is declared first), so the error names ``until``."""
    since = info.data.get("since")
    if until is not None and since is not None and since >= until:
        raise ValueError("until must be after since")
    return until


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    return check_json_value(
        value,
        max_bytes=_settings.max_metadata_bytes,
        max_depth=_settings.max_metadata_depth,
        max_keys=_settings.max_metadata_keys,
    )


Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]


def within_budget(texts: list[str]) -> None:
    """One request may carry at most ``max_request_chars`` characters of text in all."""
    total, limit = sum(len(t) for t in texts), _settings.max_request_chars
    if total > limit:
        raise ValueError(
            f"the texts add up to {total} characters, over the limit of {limit} per request "
            "(TOPICSERVE_MAX_REQUEST_CHARS); split them over several requests"
        )


Strict = StrictModel  # the base of every request model (topicserve/inputs.py)


# ---- /v1/embeddings (OpenAI-compatible) ------------------------------------------------------
def _is_id(value: Any) -> bool:
    return type(value) is int  # not bool, not float


def _check_ids(ids: Any, where: str) -> None:
    if not isinstance(ids, list) or not ids or not all(_is_id(t) for t in ids):
        raise ValueError(f"{where} must be a non-empty array of integer token ids (or text)")
    if len(ids) > token_ids.MAX_TOKENS_PER_INPUT:
        raise ValueError(f"{where} has {len(ids)} token ids; at most {token_ids.MAX_TOKENS_PER_INPUT} per text")
    bad = token_ids.first_invalid(ids)
    if bad is not None:
        limit = token_ids.VOCAB - 1
        raise ValueError(f"{where}[{bad}] = {ids[bad]} is not a cl100k_base token id (0..{limit}, no special tokens)")


def _check_decoded(text: str, where: str) -> None:
    """What `Text` checks of a text (else the union's error would speak of strings)."""
    if not text.strip():
        raise ValueError(f"{where} decodes to empty or only whitespace text")
    if len(text) > MAX_CHARS:
        raise ValueError(f"{where} decodes to {len(text)} characters; at most {MAX_CHARS} per text")


def _decode_token_ids(value: Any) -> Any:
    """``input`` as cl100k_base token ids (one array, or one per text) becomes the texts they encode;
    any other value is left to the type check. Ids are checked first: each an ordinary cl100k_base
    token, at most 8191 per text (topicserve/token_ids.py says why cl100k_base)."""
    if not isinstance(value, list) or not value or not (_is_id(value[0]) or isinstance(value[0], list)):
        return value
    single = _is_id(value[0])
    arrays = [value] if single else value
    if len(arrays) > MAX_ITEMS:
        raise ValueError(f"at most {MAX_ITEMS} token arrays per request (e.g. OpenAIEmbeddings(chunk_size=...))")
    places = ["input"] if single else [f"input[{n}]" for n in range(len(arrays))]
    for ids, where in zip(arrays, places, strict=True):
        _check_ids(ids, where)
    try:
        texts = [token_ids.decode(ids) for ids in arrays]
    except token_ids.TokenTableMissing as exc:
        raise ValueError(f"this server cannot decode token ids ({exc}); send the input as text") from None
    for text, where in zip(texts, places, strict=True):
        _check_decoded(text, where)
    return texts


TokenIds = Annotated[list[int], Field(min_length=1, max_length=token_ids.MAX_TOKENS_PER_INPUT)]


class EmbeddingsRequest(Strict):
    # Text, texts, or (as OpenAI's API and LangChain's OpenAIEmbeddings send them) cl100k_base token
    # ids: one array or one per text, decoded to text before validation (`_token_ids`).
    input: (
        Text
        | Annotated[list[Text], Field(min_length=1, max_length=MAX_ITEMS)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1, max_length=MAX_ITEMS)]
    )
    model: str | None = Field(None, max_length=200)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=65536)
    user: str | None = Field(None, max_length=256)

    @field_validator("input", mode="before")
    @classmethod
    def _token_ids(cls, value: Any) -> Any:
        return _decode_token_ids(value)

    @field_validator("input")
    @classmethod
    def _budget(cls, value: str | list[str]) -> str | list[str]:
        within_budget([value] if isinstance(value, str) else value)
        return value

    @property
    def texts(self) -> list[str]:
        # Token-id inputs are decoded to text by the validator, so only text is left here.
        return [self.input] if isinstance(self.input, str) else [str(t) for t in self.input]


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
    timestamp: Timestamp | None = Field(None, description="ISO 8601 with a timezone; default: the time of ingest.")
    metadata: Metadata = Field(default_factory=dict, description="JSON object; limits in docs/api.md.")


class IngestRequest(Strict):
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_ITEMS)

    @field_validator("documents")
    @classmethod
    def _unique_ids(cls, docs: list[DocumentIn]) -> list[DocumentIn]:
        within_budget([d.text for d in docs])
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
    taxonomy_version: str | None = Field(None, description="The taxonomy version the topics were computed with.")


class DocumentOut(BaseModel):
    id: str
    text: str
    timestamp: datetime
    metadata: dict[str, Any]
    topics: list[TopicScore]
    taxonomy_version: str | None = Field(
        None, description="The taxonomy version of `topics` (null: stored before versions were recorded)."
    )


# ---- document management (store issue 10): delete, list ---------------------------------------
class DeleteRequest(Strict):
    """Delete by ``ids``, or by a filter (``topic``, ``since``, ``until``); not both, never empty."""

    ids: list[DocId] | None = Field(None, min_length=1, max_length=10 * MAX_ITEMS)
    topic: str | None = Field(None, min_length=1, max_length=200)
    since: Timestamp | None = None
    until: Timestamp | None = None

    _ordered = field_validator("until")(_until_after_since)

    @model_validator(mode="after")
    def _one_kind(self) -> DeleteRequest:
        has_filter = any(v is not None for v in (self.topic, self.since, self.until))
        if self.ids is None and not has_filter:
            raise ValueError("give ids, or a filter with topic, since or until (an empty filter would delete all)")
        if self.ids is not None and has_filter:
            raise ValueError("give ids or a filter, not both")
        return self


class DocumentsQuery(BaseModel):
    """The query of GET /documents. Lax types (a query string is all strings), no unknown parameters."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    topic: Name | None = Field(None, description="Only documents with this topic.")
    since: Timestamp | None = Field(None, description="Only documents at or after this time (with a timezone).")
    until: Timestamp | None = Field(None, description="Only documents before this time (with a timezone).")
    limit: int = Field(100, ge=1, le=1000, description="Page size.")
    cursor: str | None = Field(None, max_length=1024, description="`next_cursor` of the previous page.")

    _ordered = field_validator("until")(_until_after_since)


class DeleteResponse(BaseModel):
    deleted: int


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null on the last one.")


# ---- search ---------------------------------------------------------------------------------
class SearchRequest(Strict):
    query: Text
    k: int = Field(10, ge=1, le=_settings.max_k)
    topic: Name | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None
    mode: Literal["vector", "keyword", "hybrid"] = Field(
        "vector", description="vector (embeddings), keyword (full-text, BM25) or hybrid (reciprocal rank fusion)."
    )

    _ordered = field_validator("until")(_until_after_since)

    @field_validator("query")
    @classmethod
    def _budget(cls, value: str) -> str:
        within_budget([value])
        return value


class SearchResult(DocumentOut):
    score: float


class RetagProgress(BaseModel):
    """The background re-tag: ``done`` of ``total`` documents carry ``version`` (counted in the store)."""

    version: str | None = None
    done: int = 0
    total: int = 0
    in_progress: bool = False


class SearchResponse(BaseModel):
    results: list[SearchResult]
    model: str
    taxonomy_version: str | None = Field(None, description="The current taxonomy version (topic filters use it).")
    mixed: bool = Field(False, description="True while stored documents are still being re-tagged to it.")


# ---- topics ---------------------------------------------------------------------------------
class TopicsRequest(Strict):
    texts: list[Text] = Field(min_length=1, max_length=MAX_ITEMS)
    labels: RequestLabels | None = Field(None, description="Inline topics replacing the taxonomy for this call.")
    top_k: int | None = Field(None, ge=1, le=50)
    threshold: float | None = Field(
        None, ge=-100.0, le=100.0, description="A floor on `score` for this call (on the calibration scale)."
    )
    min_confidence: float | None = Field(None, ge=0.0, le=1.0, description="Overrides the configured min_confidence.")
    margin: float | None = Field(
        None, ge=0.0, le=1.0, description="Overrides the configured margin (0: no margin test)."
    )
    second: float | None = Field(
        None, ge=0.0, le=1.0, description="Overrides the configured second (0: no second-topic test)."
    )

    @field_validator("texts")
    @classmethod
    def _budget(cls, value: list[str]) -> list[str]:
        within_budget(value)
        return value


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
    rule: str | None = Field(None, description="The decision rule that kept these topics, with its settings.")
    degraded: bool = Field(False, description="True when some texts fell back from the LLM to the taxonomy.")
    fallback_reason: str | None = None


# ---- trends ---------------------------------------------------------------------------------
class TrendsQuery(BaseModel):
    """The query of GET /trends. Lax types (a query string is all strings), no unknown parameters."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    window: str = Field("7d", max_length=32, description="Recent window, e.g. 7d, 12h, 2w (at most 3650d).")
    baseline: str = Field("30d", max_length=32, description="Baseline period just before the window.")
    bin: str | None = Field(
        None, max_length=32, description="Bin width of the returned series; default min(window, baseline)."
    )
    now: Timestamp | None = Field(None, description="Evaluate as of this time (default: now); with a timezone.")
    min_count: int = Field(2, ge=1, le=100000, description="Least recent count for a topic to trend.")
    candidates: bool = Field(True, description="Discover candidate topics among unmatched documents.")
    unmatched_below: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Also treat documents whose best topic confidence (the decision rule's, in [0, 1]) is "
        "below this as unmatched; topics without a confidence (threshold rule, LLM) are matches.",
    )


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


class DriftFlag(BaseModel):
    metric: Literal["tagged_share", "nearest_score"]
    value: float
    direction: Literal["down", "up"]
    recent_range: list[float]


class DriftBin(BaseModel):
    start: datetime
    documents: int
    tagged_share: float | None = Field(None, description="Share of the bin's documents with at least one topic.")
    nearest_score: float | None = Field(None, description="Mean score of each document's nearest label.")
    flags: list[DriftFlag] = Field(default_factory=list)


class Drift(BaseModel):
    """Does the taxonomy still cover what arrives? (topicserve/drift.py)"""

    method: str
    params: dict[str, float | int]
    bins: list[DriftBin]
    alerts: list[DriftBin] = Field(default_factory=list, description="The bins with a flag.")
    hint: str | None = Field(None, description="What to do when coverage drops: discovery, then promote.")


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
    taxonomy_version: str | None = Field(None, description="The current taxonomy version.")
    taxonomy_versions: dict[str, int] = Field(
        default_factory=dict, description="Documents of the time range per taxonomy version ('unknown': unrecorded)."
    )
    mixed: bool = Field(False, description="True when the range holds documents of more than one version.")
    drift: Drift | None = None


# ---- evaluate -------------------------------------------------------------------------------
EvaluateAgainst = TopicsOverride  # labels, threshold, top_k, calibration, prompt name: nothing else


class EvaluateItem(Strict):
    text: Text
    human_topics: list[Name] = Field(default_factory=list, max_length=50)
    label: Name | None = Field(None, description="One human topic (AG News style).")

    @model_validator(mode="after")
    def _has_topics(self) -> EvaluateItem:
        if not self.human_topics and not self.label:
            raise ValueError("each item needs human_topics or label")
        return self


class EvaluateRequest(Strict):
    source: Literal["items", "feedback"] = Field(
        "items", description="items: the `items` given; feedback: the feedback collected so far (no `items`)."
    )
    items: list[EvaluateItem] | None = Field(None, min_length=1, max_length=MAX_ITEMS, validate_default=True)
    against: EvaluateAgainst | None = Field(
        None,
        description="The server's Topics configuration with other labels, threshold, top_k, calibration or "
        "prompt name, evaluated side by side. Backend, taxonomy files and LLM settings are the server's own.",
    )

    @field_validator("items")
    @classmethod
    def _budget(cls, items: list[EvaluateItem] | None, info: ValidationInfo) -> list[EvaluateItem] | None:
        source = info.data.get("source", "items")
        if source == "feedback" and items is not None:
            raise ValueError('give items, or source "feedback" without items; not both')
        if source == "items" and items is None:
            raise ValueError('give items (1 to 256), or source "feedback"')
        if items:
            within_budget([t for i in items for t in (i.text, *i.human_topics, i.label or "")])
        return items


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
    feedback: FeedbackEvaluation | None = Field(None, description='With source "feedback": what was evaluated.')


# ---- feedback (issue 13 section 4) ----------------------------------------------------------
Verdict = Literal["confirmed", "rejected", "added"]
MAX_FEEDBACK_ITEMS = 50


class FeedbackItem(Strict):
    topic: Name = Field(description="A configured topic label (or a promoted candidate); case-insensitive.")
    verdict: Verdict = Field(
        description="confirmed: the document has this topic as tagged; rejected: it has not; "
        "added: it has this topic although it was not tagged with it."
    )
    note: str | None = Field(None, max_length=2000)


class FeedbackRequest(Strict):
    """One verdict (``topic``, ``verdict``, ``note``) or several (``items``); not both."""

    topic: Name | None = None
    verdict: Verdict | None = None
    note: str | None = Field(None, max_length=2000)
    items: list[FeedbackItem] | None = Field(None, min_length=1, max_length=MAX_FEEDBACK_ITEMS)

    @field_validator("items")
    @classmethod
    def _distinct(cls, items: list[FeedbackItem] | None, info: ValidationInfo) -> list[FeedbackItem] | None:
        if any(info.data.get(k) is not None for k in ("topic", "verdict", "note")):
            raise ValueError("give topic and verdict, or items; not both")
        seen: set[str] = set()
        for item in items or []:
            if item.topic.lower() in seen:
                raise ValueError(f"topic {item.topic!r} appears twice (topics are compared case-insensitively)")
            seen.add(item.topic.lower())
        return items

    def all_items(self) -> list[FeedbackItem]:
        """The verdicts as a list; a request with neither kind names the missing field."""
        if self.items is not None:
            return self.items
        from topicserve.errors import InvalidInput

        for name in ("topic", "verdict"):
            if getattr(self, name) is None:
                raise InvalidInput(f"{name}: field required (or give items)", field=name)
        return [FeedbackItem.model_validate({"topic": self.topic, "verdict": self.verdict, "note": self.note})]


class FeedbackOut(BaseModel):
    id: str
    topic: str
    verdict: Verdict
    note: str | None = None
    timestamp: datetime
    request_id: str | None = None


class FeedbackResponse(BaseModel):
    document_id: str
    stored: int = Field(0, description="Verdicts stored by this request (POST).")
    feedback: list[FeedbackOut] = Field(
        description="POST: the verdicts stored; GET: all of the document's, oldest first."
    )
    current: dict[str, Verdict] = Field(
        default_factory=dict, description="GET: each topic's newest verdict (what prototypes and /evaluate use)."
    )


class FeedbackEvaluation(BaseModel):
    documents: int = Field(description="Documents with feedback that were evaluated (the newest, at most 256).")
    positive_items: int = Field(description="Of them, with confirmed/added topics (the gold topics of `items`).")
    rejected: int = Field(description="Rejected (document, topic) pairs: negatives.")
    rejected_still_given: int = Field(description="Rejected pairs the model still tags (false positives).")
    rejected_rate: float | None = Field(None, description="rejected_still_given / rejected (lower is better).")


# ---- query log ------------------------------------------------------------------------------
class TopQueriesQuery(BaseModel):
    """The query of GET /queries/top. Lax types (a query string is all strings), no unknown parameters."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    limit: int = Field(10, ge=1, le=1000, description="How many queries.")
    since: Timestamp | None = Field(None, description="Only searches at or after this time (with a timezone).")


class TopQuery(BaseModel):
    query: str = Field(description="The query text, lower-cased with whitespace collapsed.")
    count: int
    last_seen: datetime


class TopQueriesResponse(BaseModel):
    queries: list[TopQuery]
    enabled: bool = Field(description="Whether the query log is on (TOPICSERVE_QUERY_LOG).")
