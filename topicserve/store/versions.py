"""Taxonomy versions in the table: the column upgrade, stale rows, the guarded re-tag write, progress.

Each row records the ``taxonomy_version`` its topics were computed with. The re-tag worker
(topicserve/retag.py) reads rows of another version in batches and writes their new topics back
with a merge whose condition is ``updated_at`` unchanged: a document rewritten meanwhile (its
content is newer than what the worker read) is left alone, and a deleted one is not re-inserted.
Progress is a count by version, so it survives any restart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from topicserve.store.documents import ADDED_COLUMNS, TOPIC, _topic
from topicserve.store.query import quote

if TYPE_CHECKING:
    from topicserve.space import EmbeddingSpace
    from topicserve.store.table import DocumentStore
    from topicserve.topics import TopicScore

VERSION_RE = re.compile(r"^[A-Za-z0-9._+:-]{1,80}$")
# Rewritten unless the row is as the worker read it (the same last content write, or both unknown).
UNCHANGED = "(target.updated_at = source.updated_at OR (target.updated_at IS NULL AND source.updated_at IS NULL))"
RETAG_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("topics", pa.list_(TOPIC)),
        pa.field("topic_labels", pa.list_(pa.string())),
        pa.field("taxonomy_version", pa.string()),
        pa.field("nearest", TOPIC),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)


def check_version(version: str) -> str:
    if not VERSION_RE.match(version):
        raise ValueError(f"not a taxonomy version: {version[:40]!r}")
    return version


def stale_predicate(version: str) -> str:
    return f"taxonomy_version IS NULL OR taxonomy_version != {quote(check_version(version))}"


def upgrade(table, space: EmbeddingSpace) -> list[str]:
    """Add the columns a table of an earlier release lacks (all null: version unknown); their names."""
    from topicserve.store.documents import table_schema

    have = set(table.schema.names)
    missing = [f for f in table_schema(space) if f.name in ADDED_COLUMNS and f.name not in have]
    if missing:
        table.add_columns(missing)
    return [f.name for f in missing]


@dataclass
class StaleBatch:
    """Rows whose topics were computed with another taxonomy version, as the worker read them."""

    ids: list[str]
    texts: list[str]
    vectors: np.ndarray
    updated_at: list[Any]

    def __len__(self) -> int:
        return len(self.ids)


def read_stale(store: DocumentStore, version: str, limit: int) -> StaleBatch:
    table = store.table
    columns = ["id", "text", "vector", "updated_at"]
    rows = table.search().where(stale_predicate(version)).select(columns).limit(limit).to_arrow()
    dim = store.space.dim if store.space else 0
    vectors = rows.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return StaleBatch(
        ids=rows.column("id").to_pylist(),
        texts=rows.column("text").to_pylist(),
        vectors=np.asarray(vectors, np.float32).reshape(len(rows), dim),
        updated_at=rows.column("updated_at").to_pylist(),
    )


def write_retagged(
    store: DocumentStore,
    batch: StaleBatch,
    topics: Sequence[Sequence[TopicScore]],
    nearest: Sequence[TopicScore | None],
    version: str,
) -> int:
    """New topics for the rows of ``batch`` that nobody rewrote since it was read; how many."""
    data = pa.table(
        {
            "id": batch.ids,
            "topics": [[_topic(t) for t in row] for row in topics],
            "topic_labels": [sorted({t.label.lower() for t in row}) for row in topics],
            "taxonomy_version": [check_version(version)] * len(batch),
            "nearest": [_topic(n) for n in nearest],
            "updated_at": batch.updated_at,
        },
        schema=RETAG_SCHEMA,
    )
    merge = store.table.merge_insert("id").when_matched_update_all(where=UNCHANGED)  # no insert: deleted stays deleted
    result = merge.execute(data)
    return int(getattr(result, "num_updated_rows", 0) or 0)


def progress(store: DocumentStore, version: str) -> dict[str, Any]:
    """{version, done, total}: rows tagged with ``version`` out of all rows."""
    table = store.table
    if table is None:
        return {"version": version, "done": 0, "total": 0}
    total = table.count_rows()
    stale = table.count_rows(stale_predicate(version)) if total else 0
    return {"version": version, "done": total - stale, "total": total}


def versions_of(column: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """How many rows carry each version ("unknown": null), largest first."""
    counts = pa.chunked_array([column]) if isinstance(column, pa.Array) else column
    found = counts.value_counts() if len(counts) else pa.array([], pa.struct([("values", pa.string())]))
    pairs = [(v["values"] or "unknown", int(v["counts"])) for v in found.to_pylist()]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))
