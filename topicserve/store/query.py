"""SQL filters for LanceDB queries (pushed into the scan: prefilter), and result conversion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from topicserve.store.documents import StoredDocument, from_row


def quote(value: str) -> str:
    """A SQL string literal (single quotes doubled): values never become SQL."""
    return "'" + value.replace("'", "''") + "'"


def _ts(value: datetime) -> str:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def where(
    *,
    topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    ids: Sequence[str] | None = None,
    after_id: str | None = None,
) -> str | None:
    """One SQL predicate for the filters given (None when there are none)."""
    parts = []
    if topic is not None:
        parts.append(f"array_has_any(topic_labels, [{quote(topic.lower())}])")  # served by the LabelList index
    if since is not None:
        parts.append(f"timestamp >= {_ts(since)}")
    if until is not None:
        parts.append(f"timestamp < {_ts(until)}")
    if ids is not None:
        parts.append(f"id IN ({', '.join(quote(i) for i in ids)})" if ids else "false")
    if after_id is not None:
        parts.append(f"id > {quote(after_id)}")
    return " AND ".join(parts) or None


def hits(table: pa.Table, score_column: str) -> list[tuple[StoredDocument, float]]:
    """(document, score) pairs; vector distances (cosine) become similarities."""
    rows = table.to_pylist()
    if score_column == "_distance":
        return [(from_row(r), 1.0 - float(r["_distance"])) for r in rows]
    return [(from_row(r), float(r[score_column])) for r in rows]
