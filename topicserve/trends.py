"""Trending topics from (timestamp, topics) columns, and the /trends report with candidate topics. Ray-free.

Method: a smoothed Poisson z-score. For each topic, the baseline period (just before the recent
window) gives the topic's rate, and so an expected count for the window::

    expected = baseline_count * window / covered_baseline
    score    = (recent_count - expected) / sqrt(expected + 1)

A topic that is always popular has recent ≈ expected and scores ≈ 0 however large its counts:
the score measures surprise in units of the Poisson noise of the expectation (sqrt(expected)),
so a popular topic needs a proportionally larger jump than a rare one to stand out. The +1 keeps
a topic that is new in the window from scoring infinity (its score is then its count). A topic
trends when its score is positive and its recent count reaches ``min_count`` (one document is not
a trend). ``covered_baseline`` is the part of the baseline the data covers (from the start of
the bin of the first document, when the collection started inside the baseline), so a young
collection does not make every topic look like it is trending. Ties break by recent count, then by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from topicserve.errors import InvalidInput

_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhdw])\s*$")
MAX_DURATION = timedelta(days=3650)  # ten years: windows, baselines and bins stay far from timedelta's range
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
METHOD = (
    "poisson-z: (recent - expected) / sqrt(expected + 1), expected from the baseline rate over the covered "
    "baseline; trending when score > 0 and recent >= min_count"
)


def parse_duration(value: str, field: str) -> timedelta:
    """'7d', '12h', '2w', '30m', '45s' (at most 3650d) -> timedelta; anything else is a 422 naming ``field``."""
    match = _DURATION.match(value or "")
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"{field} must be a positive duration like 7d, 12h or 2w, got {value[:40]!r}", field=field)
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]  # checked before a timedelta can overflow
    if seconds > MAX_DURATION.total_seconds():
        raise InvalidInput(f"{field} must be at most 3650d (ten years), got {value.strip()!r}", field=field)
    return timedelta(seconds=seconds)


US = timedelta(microseconds=1)


def _us(value: datetime | timedelta) -> int:
    """Microseconds since the epoch (datetimes, taken as UTC when naive) or in a duration."""
    if isinstance(value, timedelta):
        return value // US
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // US


@dataclass
class TopicColumns:
    """What trends need, as columns: one timestamp per document, and (document, label) pairs."""

    times_us: np.ndarray  # int64, one per document
    pair_doc: np.ndarray  # int64 document index of each (document, label) pair
    pair_label: np.ndarray  # label of each pair

    @classmethod
    def from_events(cls, events: Iterable[tuple[datetime, Sequence[str]]]) -> TopicColumns:
        times: list[int] = []
        docs: list[int] = []
        labels: list[str] = []
        for i, (ts, names) in enumerate(events):
            times.append(_us(ts))
            docs.extend([i] * len(names))
            labels.extend(names)
        return cls(np.asarray(times, np.int64), np.asarray(docs, np.int64), np.asarray(labels, dtype=object))

    def with_pairs(self, docs: Sequence[int], labels: Sequence[str]) -> TopicColumns:
        return TopicColumns(
            self.times_us,
            np.concatenate([self.pair_doc, np.asarray(docs, np.int64)]),
            np.concatenate([self.pair_label, np.asarray(labels, dtype=object)]),
        )


def compute_trends(
    events: Iterable[tuple[datetime, Sequence[str]]],
    *,
    now: datetime,
    window: timedelta,
    baseline: timedelta,
    bin: timedelta,
    min_count: int = 2,
) -> tuple[list[dict], list[dict]]:
    """(trending, all_topics): dicts with topic, score, counts and a per-bin series for plotting."""
    columns = TopicColumns.from_events(events)
    return trends_from_columns(columns, now=now, window=window, baseline=baseline, bin=bin, min_count=min_count)


def _counts(columns: TopicColumns, range_us: tuple[int, int, int], origin_us: int, bin_us: int, n_bins: int):
    """(labels, per-bin counts [labels x bins], recent counts, baseline counts); a label counts
    once per document. ``range_us`` is (baseline start, window start, now)."""
    start, recent_start, end = range_us
    t = columns.times_us
    in_range = (t >= start) & (t < end)
    keep = in_range[columns.pair_doc] if len(columns.pair_doc) else np.zeros(0, bool)
    docs, names = columns.pair_doc[keep], columns.pair_label[keep].astype(str)
    labels, codes = np.unique(names, return_inverse=True)
    pairs = np.unique(np.stack([docs, codes.astype(np.int64)]), axis=1) if len(docs) else np.zeros((2, 0), np.int64)
    docs, codes = pairs[0], pairs[1]
    series = np.zeros((len(labels), n_bins), np.int64)
    np.add.at(series, (codes, np.minimum(n_bins - 1, (t[docs] - origin_us) // bin_us)), 1)
    is_recent = t[docs] >= recent_start
    recent = np.bincount(codes[is_recent], minlength=len(labels))
    base = np.bincount(codes[~is_recent], minlength=len(labels))
    first = int(t[in_range].min()) if in_range.any() else None
    return labels, series, recent, base, first


def _topic(label: str, recent: int, base: int, ratio: float, row: np.ndarray, origin: datetime, bin: timedelta):
    expected = base * ratio
    score = (recent - expected) / math.sqrt(expected + 1.0)
    return {
        "topic": label,
        "score": round(score, 6),
        "recent_count": recent,
        "baseline_count": base,
        "expected_count": round(expected, 6),
        "lift": round((recent + 1.0) / (expected + 1.0), 6),
        "series": [{"start": origin + i * bin, "count": int(c)} for i, c in enumerate(row)],
    }


def trends_from_columns(
    columns: TopicColumns, *, now: datetime, window: timedelta, baseline: timedelta, bin: timedelta, min_count: int = 2
) -> tuple[list[dict], list[dict]]:
    """compute_trends over columns: numpy counting, no per-document Python objects."""
    n_bins = max(1, math.ceil((window + baseline) / bin))
    origin = now - n_bins * bin  # bins end at `now`, so the window edge falls on a bin edge
    origin_us, bin_us, recent_us = _us(origin), _us(bin), _us(now - window)
    range_us = (_us(now - window - baseline), recent_us, _us(now))
    labels, series, recent, base, first = _counts(columns, range_us, origin_us, bin_us, n_bins)
    covered_us = _us(baseline)
    if first is not None and first < recent_us:  # from the start of the first document's bin
        covered_us = recent_us - (origin_us + (first - origin_us) // bin_us * bin_us)
    ratio = _us(window) / min(_us(baseline), covered_us)
    topics = [
        _topic(str(label), int(r), int(b), ratio, row, origin, bin)
        for label, r, b, row in zip(labels, recent, base, series, strict=True)
    ]
    topics.sort(key=lambda t: (-t["score"], -t["recent_count"], t["topic"]))
    trending = [t for t in topics if t["score"] > 0 and t["recent_count"] >= min_count]
    return trending, topics


@dataclass
class ReportColumns:
    """The documents of the time range for a report: topic columns, each document's best topic
    confidence (NaN: no topic; see `best_confidence`), and loaders that fetch texts/vectors for a few
    documents only. ``nearest_score``: each document's nearest-label score, kept or not (NaN:
    unknown; drift); ``versions``: how many documents of the range carry each taxonomy version."""

    topics: TopicColumns
    best_confidence: np.ndarray
    sample: Callable[[np.ndarray], tuple[list[str], np.ndarray]]  # document indices -> texts, vectors
    texts: Callable[[np.ndarray], list[str]]  # document indices -> texts
    nearest_score: np.ndarray | None = None
    versions: dict[str, int] | None = None

    def tagged(self) -> np.ndarray:
        return np.bincount(self.topics.pair_doc, minlength=len(self.topics.times_us)) > 0

    def nearest(self) -> np.ndarray:
        """The nearest-label score; NaN where unknown (rows stored before ``nearest`` existed: the
        best confidence is on another scale, so it is no stand-in)."""
        if self.nearest_score is None:
            return np.full(len(self.best_confidence), np.nan)
        return self.nearest_score


def empty_report() -> dict[str, Any]:
    return {
        "trending": [],
        "topics": [],
        "method": METHOD,
        "candidates": [],
        "unmatched_documents": 0,
        "taxonomy_versions": {},
        "drift": None,
    }


def trend_report(
    docs: Sequence[Any],
    vectors: np.ndarray,
    *,
    now: datetime,
    window: timedelta,
    baseline: timedelta,
    bin: timedelta,
    min_count: int = 2,
    discovery: dict | None = None,
    drift: dict | None = None,
) -> dict[str, Any]:
    """Trends over document objects (.text, .timestamp, .topics) and their vectors (small sets, tests)."""
    topics = TopicColumns.from_events((d.timestamp, [t.label for t in d.topics]) for d in docs)
    best = np.array([best_confidence([t.confidence for t in d.topics]) for d in docs], np.float64)
    nearest = [getattr(d, "nearest", None) for d in docs]
    vectors = np.asarray(vectors)
    columns = ReportColumns(
        topics,
        best,
        sample=lambda idx: ([docs[i].text for i in idx], vectors[idx]),
        texts=lambda idx: [docs[i].text for i in idx],
        nearest_score=np.array([n.score if n is not None else np.nan for n in nearest], np.float64),
    )
    return report_from_columns(
        columns,
        now=now,
        window=window,
        baseline=baseline,
        bin=bin,
        min_count=min_count,
        discovery=discovery,
        drift=drift,
    )


def best_confidence(confidences) -> float:
    """A document's best topic confidence, what ``unmatched_below`` compares: on the decision rule's
    [0, 1] scale whatever the score calibration (scores are z-scores, unbounded). A topic kept by a
    rule with no calibrated confidence (threshold rule, LLM) counts as 1.0: it is a match. NaN: no
    topic at all."""
    values = [1.0 if c is None else float(c) for c in confidences]
    return max(values) if values else float("nan")


def _unmatched(columns: ReportColumns, in_range: np.ndarray, below: float | None) -> np.ndarray:
    best = columns.best_confidence
    weak = np.isnan(best) | ((best < below) if below is not None else np.zeros(len(best), bool))
    return in_range & weak


def report_from_columns(
    columns: ReportColumns,
    *,
    now: datetime,
    window: timedelta,
    baseline: timedelta,
    bin: timedelta,
    min_count: int = 2,
    discovery: dict | None = None,
    drift: dict | None = None,
) -> dict[str, Any]:
    """Trends plus candidate topics: discovery clusters a bounded sample of the newest unmatched
    documents (only their vectors are fetched), against a bounded sample of matched texts."""
    from topicserve.discovery import DiscoveryParams, discover

    params = DiscoveryParams.model_validate(discovery or {})
    t = columns.topics.times_us
    in_range = (t >= _us(now - window - baseline)) & (t < _us(now))
    unmatched = _unmatched(columns, in_range, params.unmatched_below)
    newest = lambda mask: np.flatnonzero(mask)[np.argsort(t[mask], kind="stable")][-params.max_docs :]  # noqa: E731
    pool = newest(unmatched)
    clusters = []
    if params.enabled and len(pool) >= params.min_cluster_size:
        texts, vectors = columns.sample(pool)
        clusters = discover(texts, vectors, columns.texts(newest(in_range & ~unmatched)), params)
    taken = {str(label).lower() for label in columns.topics.pair_label}
    candidates, extra_docs, extra_labels = {}, [], []
    for cluster in clusters:
        label = cluster.label
        while label.lower() in taken:
            label += "*"
        taken.add(label.lower())
        candidates[label] = cluster
        extra_docs += [int(pool[m]) for m in cluster.members]
        extra_labels += [label] * len(cluster.members)
    trending, topics = trends_from_columns(
        columns.topics.with_pairs(extra_docs, extra_labels),
        now=now,
        window=window,
        baseline=baseline,
        bin=bin,
        min_count=min_count,
    )
    for t_ in topics:  # trending holds the same dicts
        _describe(t_, candidates.get(t_["topic"]))
    report = empty_report() | {"trending": trending, "topics": topics, "unmatched_documents": len(pool)}
    report["candidates"] = [t_ for t_ in topics if t_["candidate"]]
    report["taxonomy_versions"] = columns.versions or {}
    report["drift"] = _drift(columns, now=now, span=window + baseline, bin=bin, params=drift)
    return report


def _drift(columns: ReportColumns, *, now: datetime, span: timedelta, bin: timedelta, params: dict | None):
    from topicserve.drift import DriftParams, drift_report

    n_bins = max(1, math.ceil(span / bin))  # the trends' bins: they end at `now`
    return drift_report(
        columns.topics.times_us,
        columns.tagged(),
        columns.nearest(),
        origin=now - n_bins * bin,
        bin=bin,
        n_bins=n_bins,
        params=DriftParams.model_validate(params or {}),
    )


def _describe(topic: dict, cluster) -> None:
    topic["candidate"] = cluster is not None
    if cluster is not None:
        topic["keywords"] = cluster.keywords
        topic["examples"] = cluster.examples
        topic["promote_as"] = {
            "label": cluster.keywords[0] if cluster.keywords else topic["topic"],
            "description": ", ".join(cluster.keywords),
            "examples": cluster.examples,
        }
