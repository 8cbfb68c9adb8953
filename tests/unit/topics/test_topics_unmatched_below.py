"""`/trends` `unmatched_below` is on the decision rule's confidence scale ([0, 1]), not on the score
scale (z-scores since the calibrated rule: unbounded): weak matches are found whatever the scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from topicserve.schemas import TrendsQuery
from topicserve.topics import TopicScore
from topicserve.trends import best_confidence, trend_report

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def doc(i: int, score: float, confidence: float | None) -> SimpleNamespace:
    topics = [TopicScore(label="painting", score=score, confidence=confidence)]
    return SimpleNamespace(text=f"document {i}", timestamp=NOW - (i % 20 + 0.5) * DAY, topics=topics)


def unmatched(docs, below):
    vectors = np.eye(len(docs), 16, dtype=np.float32)
    report = trend_report(
        docs, vectors, now=NOW, window=7 * DAY, baseline=28 * DAY, bin=7 * DAY, discovery={"unmatched_below": below}
    )
    return report["unmatched_documents"]


def test_weak_matches_are_the_low_confidence_ones_whatever_the_score_scale():
    strong = [doc(i, score=6.0, confidence=0.9) for i in range(6)]
    # z-scores of 3-4 are above any old [-1, 1] bound: on the score scale nothing would be "weak"
    weak = [doc(10 + i, score=3.0 + i / 4, confidence=0.25) for i in range(4)]
    no_confidence = [doc(20 + i, score=0.1, confidence=None) for i in range(3)]  # threshold rule / LLM
    docs = strong + weak + no_confidence
    assert unmatched(docs, None) == 0
    assert unmatched(docs, 0.5) == 4
    assert unmatched(docs, 0.95) == 10
    assert unmatched(docs, 0.0) == 0


def test_best_confidence():
    assert best_confidence([0.2, 0.7]) == 0.7
    assert best_confidence([None, 0.1]) == 1.0
    assert np.isnan(best_confidence([]))


@pytest.mark.parametrize("bad", [-0.1, 1.5, 3.0])
def test_unmatched_below_is_bounded_like_a_confidence(bad):
    assert TrendsQuery(unmatched_below=0.3).unmatched_below == 0.3
    with pytest.raises(ValidationError) as err:
        TrendsQuery(unmatched_below=bad)
    assert err.value.errors()[0]["loc"] == ("unmatched_below",)
