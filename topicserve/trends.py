"""Trending topics from (timestamp, topics) pairs. Ray-free.

Method: a Poisson z-score with smoothing. For each topic, the baseline period (just before the
recent window) gives an expected count for a window of the recent window's length::

    expected = baseline_count * window / baseline
    score    = (recent_count - expected) / sqrt(expected + 1)

A topic that is always popular has recent ≈ expected and scores ≈ 0, however large its counts; the
+1 keeps a topic new in the window from scoring infinity. A topic trends when its score is
positive and its recent count reaches ``min_count`` (so a single document is not a trend). Ties
break by recent count, then by name, so the order is stable.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from topicserve.errors import InvalidInput

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
METHOD = "poisson-z: (recent - expected) / sqrt(expected + 1), expected from the baseline rate"


def parse_duration(value: str, field: str) -> timedelta:
    """'7d', '12h', '2w', '30m', '45s' -> timedelta; anything else is a 422 naming ``field``."""
    match = _DURATION.match(value or "")
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"{field} must be a positive duration like 7d, 12h or 2w, got {value!r}", field=field)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


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
    series: dict[str, list[int]] = {}
    for ts, labels in events:
        if not (baseline_start <= ts < now):
            continue
        idx = min(n_bins - 1, int((ts - baseline_start) / bin))
        for label in set(labels):
            (recent if ts >= recent_start else base)[label] += 1
            series.setdefault(label, [0] * n_bins)[idx] += 1
    ratio = window / baseline
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
                "series": [{"start": baseline_start + i * bin, "count": c} for i, c in enumerate(series[label])],
            }
        )
    topics.sort(key=lambda t: (-t["score"], -t["recent_count"], t["topic"]))
    trending = [t for t in topics if t["score"] > 0 and t["recent_count"] >= min_count]
    return trending, topics
