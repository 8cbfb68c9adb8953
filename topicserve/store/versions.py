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

from topicserve.store.documents import ADDED_COLUMNS, _topic
from topicserve.store.query import quote

if TYPE_CHECKING:
    from topicserve.space import EmbeddingSpace
    from topicserve.store.table import DocumentStore
    from topicserve.topics import TopicScore

VERSION_RE = re.compile(r"^[A-Za-z0-9._+:-]{1,80}$")
# Rewritten unless the row is as the worker read it (the same last content write, or both unknown).
UNCHANGED = "(target.updated_at = source.updated_at OR (target.updated_at IS NULL AND source.updated_at IS NULL))"
RETAGGED = ("topics", "topic_labels", "taxonomy_version", "nearest")


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
    """Rows whose topics were computed with another taxonomy version, as the worker read them
    (``rows``: every column, written back whole with new topics; None for an empty batch)."""

    ids: list[str]
    texts: list[str]
    vectors: np.ndarray
    rows: pa.Table | None = None

    def __len__(self) -> int:
        return len(self.ids)


def read_stale(store: DocumentStore, version: str, limit: int) -> StaleBatch:
    table = store.table
    schema = table.schema
    rows = table.search().where(stale_predicate(version)).select(schema.names).limit(limit).to_arrow()
    rows = rows.select(schema.names).cast(schema)
    dim = store.space.dim if store.space else 0
    vectors = rows.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return StaleBatch(
        ids=rows.column("id").to_pylist(),
        texts=rows.column("text").to_pylist(),
        vectors=np.asarray(vectors, np.float32).reshape(len(rows), dim),
        rows=rows,
    )


def write_retagged(
    store: DocumentStore,
    batch: StaleBatch,
    topics: Sequence[Sequence[TopicScore]],
    nearest: Sequence[TopicScore | None],
    version: str,
) -> int:
    """New topics for the rows of ``batch`` that nobody rewrote since it was read; how many.

    Whole rows are written back (the read columns as they were, the topic columns new): a merge of
    only the changed columns panicked in Lance 0.40 once the table had been optimized."""
    assert batch.rows is not None
    new = {
        "topics": [[_topic(t) for t in row] for row in topics],
        "topic_labels": [sorted({t.label.lower() for t in row}) for row in topics],
        "taxonomy_version": [check_version(version)] * len(batch),
        "nearest": [_topic(n) for n in nearest],
    }
    data = batch.rows
    for name in RETAGGED:
        data = data.set_column(
            data.schema.get_field_index(name),
            data.schema.field(name),
            pa.array(new[name], data.schema.field(name).type),
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
