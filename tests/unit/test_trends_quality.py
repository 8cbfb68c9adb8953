"""Trending score, series and edge cases (pure functions, no model)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from topicserve.errors import InvalidInput
from topicserve.topics import TopicScore
from topicserve.trends import compute_trends, parse_duration, trend_report

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def daily(topic: str, per_day: int, days: range) -> list[tuple[datetime, list[str]]]:
    return [(NOW - (d + 0.5) * DAY, [topic]) for d in days for _ in range(per_day)]


def run(events, **kw):
    args = {"now": NOW, "window": 7 * DAY, "baseline": 28 * DAY, "bin": 7 * DAY, **kw}
    return compute_trends(events, **args)


def by_topic(topics):
    return {t["topic"]: t for t in topics}


def test_always_popular_topic_does_not_trend_but_a_new_burst_does():
    events = daily("painting", 20, range(35))  # 20 a day, every day: big counts, no change
    events += daily("tapestry", 4, range(3))  # new in the last three days
    trending, topics = run(events)
    assert [t["topic"] for t in trending] == ["tapestry"]
    painting = by_topic(topics)["painting"]
    assert painting["recent_count"] == 140 and painting["expected_count"] == pytest.approx(140)
    assert painting["score"] == pytest.approx(0.0)
    assert by_topic(topics)["tapestry"]["score"] == pytest.approx(12.0)  # (12 - 0) / sqrt(0 + 1)


def test_popular_topic_needs_a_larger_jump_than_a_rare_one():
    events = daily("painting", 20, range(7, 35)) + daily("painting", 22, range(7))  # +10 %
    events += daily("glass", 1, range(7, 35)) + daily("glass", 2, range(7))  # doubled
    trending, topics = run(events)
    t = by_topic(topics)
    assert t["glass"]["score"] > t["painting"]["score"] > 0
    assert trending[0]["topic"] == "glass"


def test_min_count_keeps_single_documents_from_trending():
    events = [*daily("painting", 3, range(35)), (NOW - DAY, ["one-off"])]
    trending, topics = run(events)
    assert "one-off" not in [t["topic"] for t in trending]
    assert by_topic(topics)["one-off"]["score"] == pytest.approx(1.0)
    assert "one-off" in [t["topic"] for t in run(events, min_count=1)[0]]


def test_empty_store_and_empty_window():
    assert run([]) == ([], [])
    trending, topics = run(daily("painting", 2, range(10, 30)))  # nothing in the recent window
    assert trending == []
    assert by_topic(topics)["painting"]["recent_count"] == 0 and by_topic(topics)["painting"]["score"] < 0


def test_ties_are_ordered_deterministically():
    # all three: 6 documents in the window, none before: equal score and count, so by name
    events = daily("b-topic", 3, range(2)) + daily("c-topic", 2, range(3)) + daily("a-topic", 3, range(2))
    trending, _ = run(events)
    assert [t["topic"] for t in trending] == ["a-topic", "b-topic", "c-topic"]
    assert trending[0]["score"] == trending[1]["score"] == trending[2]["score"]
    assert [t["topic"] for t in run(list(reversed(events)))[0]] == ["a-topic", "b-topic", "c-topic"]


def test_series_has_one_point_per_bin_and_counts_every_document_once():
    events = [*daily("painting", 1, range(35)), (NOW - DAY, ["painting", "painting", "sculpture"])]
    _, topics = run(events, bin=DAY)
    series = by_topic(topics)["painting"]["series"]
    assert len(series) == 35 and sum(p["count"] for p in series) == 36
    assert series[0]["start"] == NOW - 35 * DAY and series[-1]["start"] == NOW - DAY
    assert series[-1]["count"] == 2  # the daily one + the duplicate-labelled one, counted once


def test_young_collection_uses_the_covered_baseline():
    # started 14 days ago, steady at 2 a day: against the full 28-day baseline the expected count
    # would be halved and the steady topic would look like it trends.
    trending, topics = run(daily("painting", 2, range(14)))
    assert trending == []
    assert by_topic(topics)["painting"]["expected_count"] == pytest.approx(14)


def test_events_outside_the_range_are_ignored():
    events = [(NOW + DAY, ["future"]), (NOW - 100 * DAY, ["ancient"]), *daily("painting", 1, range(3))]
    assert set(by_topic(run(events)[1])) == {"painting"}


@pytest.mark.parametrize("bad", ["", "7", "0d", "-1d", "7x", "d7"])
def test_parse_duration_rejects_bad_values(bad):
    with pytest.raises(InvalidInput):
        parse_duration(bad, "window")


def test_trend_report_without_unmatched_documents_has_no_candidates():
    docs = [
        SimpleNamespace(text=f"doc {i}", timestamp=NOW - i * DAY, topics=[TopicScore(label="painting", score=0.5)])
        for i in range(10)
    ]
    report = trend_report(docs, np.eye(10, 8, dtype=np.float32), now=NOW, window=7 * DAY, baseline=28 * DAY, bin=DAY)
    assert report["candidates"] == [] and report["unmatched_documents"] == 0
    assert all(t["candidate"] is False for t in report["topics"])


def test_bins_end_at_now_so_the_window_edge_is_a_bin_edge():
    _, topics = run(daily("painting", 1, range(67)), window=7 * DAY, baseline=60 * DAY, bin=7 * DAY)
    series = by_topic(topics)["painting"]["series"]
    assert len(series) == 10 and series[-1]["start"] == NOW - 7 * DAY
    assert series[-1]["count"] == 7 and sum(p["count"] for p in series) == 67
