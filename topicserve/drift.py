"""Drift: is the taxonomy still covering what arrives? Ray-free, numpy only.

Per time bin, two numbers over the documents that arrived in it:

- ``tagged_share``: the share of documents that got at least one topic;
- ``nearest_score``: the mean score of each document's nearest label, kept or not (on the
  calibration scale: background spreads by default; higher is closer; its negative is the mean
  distance to the nearest label).

A bin is flagged when either number leaves its recent range: outside ``mean ± k·spread`` of the
previous ``history`` judged bins, where ``spread`` combines the spread between those bins with
this bin's own sampling error (binomial for the share, the standard error of the mean for the
score) and a small floor, so a quiet history and a small bin do not flag noise. Bins with fewer
than ``min_docs`` documents are neither judged nor used as history. Texts that the taxonomy does
not cover pull both numbers down; discovery (candidate topics from the unmatched documents) is
the remedy, and the report says so.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

METHOD = (
    "per bin: share of documents tagged, mean score of the nearest label; flagged outside "
    "mean ± k·spread of the previous `history` bins (spread: between-bin sd, this bin's sampling error, a floor)"
)
HINT = (
    "the taxonomy may no longer cover what arrives: run discovery (GET /trends?candidates=true lists candidate "
    "topics found among the unmatched documents) and promote one through the Topics user_config `promote:`"
)


class DriftParams(BaseModel):
    k: float = Field(3.0, gt=0, le=100, description="How many spreads away from the recent mean flags a bin.")
    history: int = Field(6, ge=2, le=500, description="How many previous (judged) bins make the recent range.")
    min_docs: int = Field(10, ge=1, le=100_000, description="Bins with fewer documents are not judged.")
    min_history: int = Field(3, ge=2, le=500, description="Judge a bin only with at least this many bins before it.")
    share_floor: float = Field(0.03, ge=0, le=1, description="Least spread of the tagged share.")
    score_floor: float = Field(0.1, ge=0, description="Least spread of the mean nearest score.")


def bin_stats(times_us: np.ndarray, tagged: np.ndarray, nearest: np.ndarray, origin_us: int, bin_us: int, n_bins: int):
    """Per bin: documents, tagged documents, scored documents, sum and sum of squares of scores."""
    t = np.asarray(times_us, np.int64)
    inside = (t >= origin_us) & (t < origin_us + n_bins * bin_us)
    idx = (t[inside] - origin_us) // bin_us
    tag = np.asarray(tagged, bool)[inside]
    score = np.asarray(nearest, np.float64)[inside]
    has = ~np.isnan(score)
    s = np.where(has, score, 0.0)
    count = lambda w: np.bincount(idx, weights=w, minlength=n_bins)[:n_bins]  # noqa: E731
    return count(None), count(tag.astype(float)), count(has.astype(float)), count(s), count(s * s)


def _judge(values: np.ndarray, errors: np.ndarray, judged: np.ndarray, i: int, p: DriftParams, floor: float):
    """(mean, band, flagged) of bin ``i`` against the previous judged bins, or None without history."""
    before = np.flatnonzero(judged[:i])[-p.history :]
    if len(before) < p.min_history or not judged[i]:
        return None
    history = values[before]
    mean, sd = float(history.mean()), float(history.std(ddof=1))
    band = p.k * max(math.sqrt(sd * sd + errors[i] ** 2), floor)
    return mean, band, abs(values[i] - mean) > band


def _flags(series, i: int, p: DriftParams) -> list[dict[str, Any]]:
    """The metrics of bin ``i`` outside their recent range, with the range and the direction."""
    flags = []
    for name, values, err, judged, floor in series:
        verdict = _judge(values, err, judged, i, p, floor)
        if verdict and verdict[2]:
            low, high = verdict[0] - verdict[1], verdict[0] + verdict[1]
            direction = "down" if values[i] < low else "up"
            flags.append(
                {
                    "metric": name,
                    "value": _round(values[i]),
                    "direction": direction,
                    "recent_range": [_round(low), _round(high)],
                }
            )
    return flags


def drift_report(
    times_us: np.ndarray,
    tagged: np.ndarray,
    nearest: np.ndarray,
    *,
    origin: datetime,
    bin: timedelta,
    n_bins: int,
    params: DriftParams | None = None,
) -> dict[str, Any]:
    """Per-bin coverage numbers and the bins where either left its recent range (``alerts``)."""
    p = params or DriftParams()
    origin_us = (origin - datetime(1970, 1, 1, tzinfo=origin.tzinfo)) // timedelta(microseconds=1)
    bin_us = bin // timedelta(microseconds=1)
    docs, tags, scored, total, squares = bin_stats(times_us, tagged, nearest, origin_us, bin_us, n_bins)
    share = np.divide(tags, docs, out=np.full(n_bins, np.nan), where=docs > 0)
    mean = np.divide(total, scored, out=np.full(n_bins, np.nan), where=scored > 0)
    var = np.divide(squares, scored, out=np.zeros(n_bins), where=scored > 0) - np.nan_to_num(mean) ** 2
    laplace = (tags + 1) / (docs + 2)  # the share's sampling error, never 0 at a share of 0 or 1
    share_err = np.sqrt(laplace * (1 - laplace) / np.maximum(docs, 1))
    score_err = np.sqrt(np.maximum(var, 0) / np.maximum(scored, 1))
    series = (
        ("tagged_share", share, share_err, docs >= p.min_docs, p.share_floor),
        ("nearest_score", mean, score_err, scored >= p.min_docs, p.score_floor),
    )
    bins: list[dict[str, Any]] = []
    for i in range(n_bins):
        row = {"start": origin + i * bin, "documents": int(docs[i]), "tagged_share": _round(share[i])}
        bins.append(row | {"nearest_score": _round(mean[i]), "flags": _flags(series, i, p)})
    alerts = [row for row in bins if row["flags"]]
    down = any(f["direction"] == "down" for a in alerts for f in a["flags"])
    return {"method": METHOD, "params": p.model_dump(), "bins": bins, "alerts": alerts, "hint": HINT if down else None}


def _round(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)
