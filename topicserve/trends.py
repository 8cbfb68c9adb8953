"""Trending topics from (timestamp, topics) pairs, and the /trends report with candidate topics. Ray-free.

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
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
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
    recent_start, baseline_start = now - window, now - window - baseline
    recent: Counter[str] = Counter()
    base: Counter[str] = Counter()
    n_bins = max(1, math.ceil((window + baseline) / bin))
    first_start = now - n_bins * bin  # bins end at `now`, so the window edge falls on a bin edge
    series: dict[str, list[int]] = {}
    first: datetime | None = None
    for ts, labels in events:
        if not (baseline_start <= ts < now):
            continue
        first = ts if first is None or ts < first else first
        idx = min(n_bins - 1, int((ts - first_start) / bin))
        for label in set(labels):
            (recent if ts >= recent_start else base)[label] += 1
            series.setdefault(label, [0] * n_bins)[idx] += 1
    covered = baseline
    if first is not None and first < recent_start:  # from the start of the first document's bin
        covered = recent_start - (first_start + int((first - first_start) / bin) * bin)
    ratio = window / min(baseline, covered)
    topics = []
    for label in set(recent) | set(base):
        expected = base[label] * ratio
        score = (recent[label] - expected) / math.sqrt(expected + 1.0)
        topics.append(
            {
                "topic": label,
                "score": round(score, 6),
                "recent_count": recent[label],
                "baseline_count": base[label],
                "expected_count": round(expected, 6),
                "lift": round((recent[label] + 1.0) / (expected + 1.0), 6),
                "series": [{"start": first_start + i * bin, "count": c} for i, c in enumerate(series[label])],
            }
        )
    topics.sort(key=lambda t: (-t["score"], -t["recent_count"], t["topic"]))
    trending = [t for t in topics if t["score"] > 0 and t["recent_count"] >= min_count]
    return trending, topics


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
) -> dict[str, Any]:
    """Trends over stored documents (objects with .text, .timestamp, .topics) and their vectors,
    with candidate topics from discovery counted like taxonomy topics and marked ``candidate``."""
    from topicserve.discovery import DiscoveryParams, discover

    params = DiscoveryParams.model_validate(discovery or {})
    start = now - window - baseline
    in_range = [i for i, d in enumerate(docs) if start <= d.timestamp < now]
    events = {i: [t.label for t in docs[i].topics] for i in in_range}

    def unmatched(doc) -> bool:
        best = max((t.score for t in doc.topics), default=None)
        return best is None or (params.unmatched_below is not None and best < params.unmatched_below)

    pool = sorted((i for i in in_range if unmatched(docs[i])), key=lambda i: docs[i].timestamp)[-params.max_docs :]
    matched_texts = [docs[i].text for i in in_range if not unmatched(docs[i])]
    clusters = discover([docs[i].text for i in pool], np.asarray(vectors)[pool], matched_texts, params) if pool else []
    taken = {label.lower() for labels in events.values() for label in labels}
    candidates = {}
    for cluster in clusters:
        label = cluster.label
        while label.lower() in taken:
            label += "*"
        taken.add(label.lower())
        candidates[label] = cluster
        for m in cluster.members:
            events[pool[m]].append(label)
    trending, topics = compute_trends(
        ((docs[i].timestamp, labels) for i, labels in events.items()),
        now=now,
        window=window,
        baseline=baseline,
        bin=bin,
        min_count=min_count,
    )
    for t in topics:  # trending holds the same dicts
        cluster = candidates.get(t["topic"])
        t["candidate"] = cluster is not None
        if cluster is not None:
            t["keywords"] = cluster.keywords
            t["examples"] = cluster.examples
            t["promote_as"] = {
                "label": cluster.keywords[0] if cluster.keywords else t["topic"],
                "description": ", ".join(cluster.keywords),
                "examples": cluster.examples,
            }
    return {
        "trending": trending,
        "topics": topics,
        "method": METHOD,
        "candidates": [t for t in topics if t["candidate"]],
        "unmatched_documents": len(pool),
    }
