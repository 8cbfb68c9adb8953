"""The ``queries`` table: the search query log, next to ``documents`` (off by default). Ray-free.

One row per answered search: (query, timestamp, result_ids, latency_ms, request_id). The query
text is the user's own text: enabling the log stores it (docs/operations.md). Retention is by age
(``query_log_days``) and by size (``query_log_max_rows``, the oldest go first); ``prune`` runs
after appends, off the request path (topicserve/querylog.py batches the rows).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from topicserve.store.query import _ts, where
from topicserve.store.sidetable import SideTable

TABLE = "queries"
SCHEMA = pa.schema(
    [
        pa.field("query", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("result_ids", pa.list_(pa.string())),
        pa.field("latency_ms", pa.float64()),
        pa.field("request_id", pa.string()),
    ]
)
_SPACES = re.compile(r"\s+")


class QueryRow(BaseModel):
    query: str
    timestamp: datetime
    result_ids: list[str]
    latency_ms: float
    request_id: str | None = None


def normalize(query: str) -> str:
    """What counts as "the same query" in /queries/top: case and runs of whitespace ignored."""
    return _SPACES.sub(" ", query).strip().lower()


class QueryLogStore:
    def __init__(self, db) -> None:
        self.table = SideTable(db, TABLE, SCHEMA)

    def append(self, rows: Sequence[QueryRow]) -> None:
        self.table.append([r.model_dump() for r in rows])

    def prune(self, days: float, max_rows: int, now: datetime | None = None) -> int:
        """Drop rows older than ``days``, then the oldest past ``max_rows``: the number dropped."""
        now = now or datetime.now(UTC)
        dropped = self.table.delete(f"timestamp < {_ts(now - timedelta(days=days))}")
        extra = self.table.count() - max_rows
        if extra > 0:
            times = self.table.scan(columns=["timestamp"]).column("timestamp")
            cut = pc.sort_indices(times)[extra - 1].as_py()
            oldest_kept = times[cut].as_py()
            # Rows at exactly the cut time go too: at most a few more than needed, never too few.
            dropped += self.table.delete(f"timestamp <= {_ts(oldest_kept)}")
        return dropped

    def top(self, limit: int, since: datetime | None = None) -> list[dict]:
        """The most frequent normalised queries since ``since``: {query, count, last_seen}."""
        scan = self.table.scan(where(since=since), columns=["query", "timestamp"])
        if scan.num_rows == 0:
            return []
        keys = pa.array([normalize(q) for q in scan.column("query").to_pylist()], pa.string())
        grouped = (
            pa.table({"query": keys, "timestamp": scan.column("timestamp")})
            .group_by("query")
            .aggregate([("timestamp", "count"), ("timestamp", "max")])
            .to_pylist()
        )
        grouped.sort(key=lambda g: (-g["timestamp_count"], -g["timestamp_max"].timestamp(), g["query"]))
        return [
            {"query": g["query"], "count": g["timestamp_count"], "last_seen": g["timestamp_max"]}
            for g in grouped[:limit]
        ]

    def count(self) -> int:
        return self.table.count()
