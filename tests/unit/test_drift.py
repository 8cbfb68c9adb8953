"""Drift: per-bin tagged share and nearest-label score, flagged outside their recent range.
Synthetic bins with known numbers, then the real model with off-topic texts arriving."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.support.models import embed, embed_sync
from topicserve.drift import HINT, DriftParams, drift_report
from topicserve.store import StoredDocument
from topicserve.tagging import tag
from topicserve.topics import TopicModel
from topicserve.trends import trend_report

ORIGIN = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)


def _bins(shares: list[float], scores: list[float], per_bin: int = 20, spread: float = 0.0):
    """Documents bin by bin: round(share * per_bin) tagged, nearest scores around ``score``."""
    rng = np.random.default_rng(7)
    times, tagged, nearest = [], [], []
    for b, (share, score) in enumerate(zip(shares, scores, strict=True)):
        k = round(share * per_bin)
        for j in range(per_bin):
            times.append((ORIGIN + b * HOUR + j * (HOUR / per_bin) - datetime(1970, 1, 1, tzinfo=UTC)) // US)
            tagged.append(j < k)
            nearest.append(score + spread * rng.standard_normal())
    return np.array(times), np.array(tagged), np.array(nearest)


def _report(shares, scores, **kw):
    params = DriftParams(**kw.pop("params", {}))
    columns = _bins(shares, scores, **kw)
    return drift_report(*columns, origin=ORIGIN, bin=HOUR, n_bins=len(shares), params=params)


def test_numbers_per_bin_are_exact():
    report = _report([0.9, 0.8, 1.0], [4.0, 3.5, 2.0])
    assert [b["documents"] for b in report["bins"]] == [20, 20, 20]
    assert [b["tagged_share"] for b in report["bins"]] == [0.9, 0.8, 1.0]
    assert [b["nearest_score"] for b in report["bins"]] == [4.0, 3.5, 2.0]
    assert report["alerts"] == [] and report["hint"] is None  # fewer than min_history bins before any


def test_a_drop_in_coverage_is_flagged_with_the_discovery_hint():
    shares = [0.9, 0.85, 0.9, 0.95, 0.9, 0.85, 0.3]
    scores = [4.0, 4.2, 3.9, 4.1, 4.0, 3.8, 1.0]
    report = _report(shares, scores, spread=0.5)
    assert [a["start"] for a in report["alerts"]] == [ORIGIN + 6 * HOUR]
    flags = {f["metric"]: f for f in report["alerts"][0]["flags"]}
    assert set(flags) == {"tagged_share", "nearest_score"}
    assert flags["tagged_share"]["direction"] == "down" and flags["tagged_share"]["value"] == 0.3
    low, high = flags["tagged_share"]["recent_range"]
    assert low < 0.875 < high and low > 0.3  # the range is centred on the previous six bins' mean
    assert report["hint"] == HINT and "/trends?candidates=true" in HINT


def test_noise_within_the_recent_range_is_not_flagged():
    # between-bin sd 0.05 and a 2.5-spread move: inside k=3, outside k=2
    shares = [0.80, 0.85, 0.90, 0.85, 0.80, 0.85, 0.95]
    flat = [3.0] * 7
    assert _report(shares, flat, per_bin=400)["alerts"] == []
    tight = _report(shares, flat, per_bin=400, params={"k": 2.0})
    assert [a["start"] for a in tight["alerts"]] == [ORIGIN + 6 * HOUR]
    assert tight["alerts"][0]["flags"][0]["direction"] == "up" and tight["hint"] is None


def test_small_bins_are_not_judged_and_the_history_is_the_last_n_bins():
    report = _report([0.9] * 6 + [0.1], [4.0] * 7, per_bin=5, params={"min_docs": 10})
    assert report["alerts"] == []  # 5 documents a bin: none judged
    # an old regime (share 0.2) followed by a new one (0.9): with history 3 the new one is the norm
    shares = [0.2] * 4 + [0.9] * 4
    scores = [4.0] * 8
    recent = _report(shares, scores, params={"history": 3})
    assert [a["start"] for a in recent["alerts"]] == [ORIGIN + 4 * HOUR]  # only the jump itself


# ---- the real model: texts the taxonomy does not cover start to arrive -------------------------------------
OFF_TOPIC = [
    "The striker scored twice in the second half and his team won the cup final.",
    "My flight to Denver was delayed by snow, so I missed the connection.",
    "Add the onions to the pan and fry them until golden before adding the rice.",
    "The new phone has a faster chip and a battery that lasts two days.",
    "Interest rates rose again and the central bank signalled more increases.",
    "The marathon runners crossed the bridge in heavy rain this morning.",
    "Our router keeps dropping the wifi connection every evening.",
    "The senator proposed a bill to cut taxes for small businesses.",
]


def test_off_topic_arrivals_are_flagged_with_the_real_model():
    corpus = Path(__file__).parents[2] / "topicserve" / "data" / "demo_corpus.jsonl"
    art = [json.loads(line)["text"] for line in corpus.read_text().splitlines() if line.strip()][:30]
    texts = art + OFF_TOPIC
    vectors = embed_sync(texts)
    tagged = asyncio.run(tag(TopicModel(embed), texts, vectors))
    now = ORIGIN + 6 * HOUR
    times = [ORIGIN + (i // 6) * HOUR + i % 6 * timedelta(minutes=5) for i in range(30)]  # 6 art texts an hour
    times += [ORIGIN + 5 * HOUR + timedelta(minutes=30 + i) for i in range(len(OFF_TOPIC))]  # then off-topic
    docs = [
        StoredDocument(id=str(i), text=t, timestamp=ts, topics=topics, taxonomy_version=tagged.version, nearest=near)
        for i, (t, ts, topics, near) in enumerate(zip(texts, times, tagged.topics, tagged.nearest, strict=True))
    ]
    report = trend_report(
        docs,
        vectors,
        now=now,
        window=HOUR,
        baseline=5 * HOUR,
        bin=HOUR,
        discovery={"enabled": False},
        drift={"min_docs": 5},
    )
    drift = report["drift"]
    art_share = [b["tagged_share"] for b in drift["bins"][:5]]
    assert min(art_share) >= 0.5, drift["bins"]
    last = drift["bins"][5]
    assert last["documents"] == len(OFF_TOPIC) and last["tagged_share"] < min(art_share)
    assert [a["start"] for a in drift["alerts"]] == [ORIGIN + 5 * HOUR], drift["bins"]
    assert {f["metric"]: f["direction"] for f in last["flags"]} == {"tagged_share": "down", "nearest_score": "down"}
    assert drift["hint"] == HINT
    # every text has a nearest label, kept or not; the off-topic ones are farther from theirs
    assert all(n is not None and 0.0 <= n.confidence <= 1.0 for n in tagged.nearest)
    off = np.mean([n.score for n in tagged.nearest[30:]])
    assert off < np.mean([n.score for n in tagged.nearest[:30]]) - 1.0
    for topics, near in zip(tagged.topics, tagged.nearest, strict=True):
        if topics:  # a kept topic is never better than the nearest label
            assert max(t.score for t in topics) == pytest.approx(near.score, abs=1e-9)
