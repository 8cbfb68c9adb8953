"""The ``feedback`` table: people's verdicts on a document's topics, next to ``documents``. Ray-free.

One row per verdict: (id, doc_id, topic, verdict, note, timestamp, request_id). Rows are only
appended; the *current* verdict of a (document, topic) pair is its newest row, so a topic first
rejected and later confirmed counts as confirmed. Rows of a deleted document stay in the table
but are skipped when read (its text and vector are gone).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from topicserve.store.query import quote, where
from topicserve.store.sidetable import SideTable

if TYPE_CHECKING:
    from topicserve.store.table import DocumentStore

TABLE = "feedback"
Verdict = Literal["confirmed", "rejected", "added"]
POSITIVE = ("confirmed", "added")
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("topic", pa.string(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("note", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("request_id", pa.string()),
    ]
)


class FeedbackRecord(BaseModel):
    id: str
    doc_id: str
    topic: str
    verdict: Verdict
    note: str | None = None
    timestamp: datetime
    request_id: str | None = None


class FeedbackItemIn(BaseModel):
    """One verdict as the writer receives it (validated by the API's request model before)."""

    topic: str
    verdict: Verdict
    note: str | None = None


def current(records: Sequence[FeedbackRecord]) -> list[FeedbackRecord]:
    """The newest verdict of each (document, topic) pair (topics compared case-insensitively)."""
    latest: dict[tuple[str, str], FeedbackRecord] = {}
    for record in sorted(records, key=lambda r: (r.timestamp, r.id)):
        latest[(record.doc_id, record.topic.lower())] = record
    return sorted(latest.values(), key=lambda r: (r.timestamp, r.id))


class FeedbackStore:
    def __init__(self, db) -> None:
        self.table = SideTable(db, TABLE, SCHEMA)

    def generation(self) -> int:
        """Moves with every committed feedback write (the table version; it survives restarts)."""
        return self.table.version

    def add(self, doc_id: str, items: Sequence[FeedbackItemIn], request_id: str | None = None) -> list[FeedbackRecord]:
        """All of ``items`` in one commit, or none of them (StoreUnavailable)."""
        now = datetime.now(UTC)
        batch = uuid.uuid4().hex[:12]
        records = [
            FeedbackRecord(
                id=f"{now:%Y%m%dT%H%M%S%f}-{batch}-{n:03d}",  # sorts in time, then request order
                doc_id=doc_id,
                topic=i.topic,
                verdict=i.verdict,
                note=i.note,
                timestamp=now,
                request_id=request_id,
            )
            for n, i in enumerate(items)
        ]
        self.table.append([r.model_dump() for r in records])
        return records

    def for_document(self, doc_id: str) -> list[FeedbackRecord]:
        rows = self.table.scan(f"doc_id = {quote(doc_id)}").to_pylist()
        return sorted((FeedbackRecord.model_validate(r) for r in rows), key=lambda r: (r.timestamp, r.id))

    def records(self) -> list[FeedbackRecord]:
        return [FeedbackRecord.model_validate(r) for r in self.table.scan().to_pylist()]


def document_vectors(store: DocumentStore, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """The stored vectors of those of ``ids`` the documents table still holds."""
    if store.table is None or not ids:
        return {}
    found: dict[str, np.ndarray] = {}
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        query = store.table.search().where(where(ids=part)).select(["id", "vector"]).limit(len(part))
        for row in query.to_arrow().to_pylist():
            found[row["id"]] = np.asarray(row["vector"], dtype=np.float32)
    return found
