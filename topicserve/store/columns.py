"""Trends straight from table columns: timestamp + topics for the time range, counted with numpy.

One scan reads only ``id``, ``timestamp`` and ``topics`` (no text, no vectors) for the range;
discovery then fetches texts and vectors for its bounded sample of unmatched documents only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from topicserve.store.query import where
from topicserve.store.versions import versions_of
from topicserve.trends import ReportColumns, TopicColumns, report_from_columns

if TYPE_CHECKING:
    from topicserve.store.table import DocumentStore

FETCH_BATCH = 1000


def _topic_columns(scan: pa.Table) -> tuple[TopicColumns, np.ndarray]:
    times = pc.cast(scan.column("timestamp"), pa.int64()).to_numpy(zero_copy_only=False)
    topics = scan.column("topics").combine_chunks()
    parents = pc.list_parent_indices(topics).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(topics)
    labels = pc.struct_field(flat, "label").to_numpy(zero_copy_only=False)
    # unmatched_below compares the best confidence (topicserve/trends.py: best_confidence); a topic
    # without one (threshold rule, LLM) is a match: 1.0.
    confidence = pc.fill_null(pc.struct_field(flat, "confidence"), 1.0)
    confidence = confidence.to_numpy(zero_copy_only=False).astype(np.float64)
    best = np.full(len(times), -np.inf)
    np.maximum.at(best, parents, confidence)
    best[np.isneginf(best)] = np.nan
    return TopicColumns(times.astype(np.int64), parents, labels.astype(object)), best


def _nearest(scan: pa.Table) -> np.ndarray | None:
    if "nearest" not in scan.column_names:
        return None
    score = pc.struct_field(scan.column("nearest").combine_chunks(), "score")
    return pc.fill_null(score, np.nan).to_numpy(zero_copy_only=False).astype(np.float64)


def _fetcher(store: DocumentStore, ids: np.ndarray):
    space = store.space
    assert space is not None, "a store with a table is bound to a space"

    def fetch(idx: np.ndarray, columns: list[str]) -> list[dict | None]:
        wanted = [str(ids[i]) for i in idx]
        found: dict[str, dict] = {}
        for start in range(0, len(wanted), FETCH_BATCH):
            part = wanted[start : start + FETCH_BATCH]
            query = store.table.search().where(where(ids=part)).select(["id", *columns]).limit(len(part))
            for row in query.to_arrow().to_pylist():
                found[row["id"]] = row
        return [found.get(i) for i in wanted]  # None: deleted since the scan (keeps indices aligned)

    def sample(idx: np.ndarray) -> tuple[list[str], np.ndarray]:
        rows, zero = fetch(idx, ["text", "vector"]), np.zeros(space.dim, np.float32)
        vectors = np.asarray([r["vector"] if r else zero for r in rows], np.float32).reshape(len(rows), -1)
        return [r["text"] if r else "" for r in rows], vectors

    def texts(idx: np.ndarray) -> list[str]:
        return [r["text"] for r in fetch(idx, ["text"]) if r]

    return sample, texts


def trend_report_from_table(
    store: DocumentStore, *, now: datetime, window: timedelta, baseline: timedelta, bin: timedelta, **options: Any
) -> dict[str, Any]:
    predicate = where(since=now - window - baseline, until=now)
    wanted = ["id", "timestamp", "topics", "nearest", "taxonomy_version"]
    select = [c for c in wanted if c in store.table.schema.names]  # a table not upgraded yet lacks the last two
    scan = store.table.search().where(predicate).select(select).limit(None).to_arrow()
    topics, best = _topic_columns(scan)
    sample, texts = _fetcher(store, scan.column("id").to_numpy(zero_copy_only=False))
    columns = ReportColumns(topics, best, sample=sample, texts=texts, nearest_score=_nearest(scan))
    if "taxonomy_version" in scan.column_names:
        columns.versions = versions_of(scan.column("taxonomy_version"))
    return report_from_columns(columns, now=now, window=window, baseline=baseline, bin=bin, **options)
