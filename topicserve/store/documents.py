"""The table's row: StoredDocument <-> Arrow, and the Arrow schema with the embedding space in it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from topicserve.space import EmbeddingSpace
from topicserve.topics import TopicScore

SPACE_KEY = b"topicserve.space"
FORMAT_KEY = b"topicserve.format"
FORMAT = "2"  # format 1 was the JSONL-segment store (topicserve/store/legacy.py)
# confidence: the decision rule's calibrated confidence (topicserve/topics/rules.py); null when the
# rule gives none (LLM-snapped topics) or for tables written before it existed.
TOPIC = pa.struct([("label", pa.string()), ("score", pa.float64()), ("confidence", pa.float64())])
# Everything but the vector: what get/list/search return.
DOC_COLUMNS = ["id", "text", "timestamp", "metadata", "topics"]


class StoredDocument(BaseModel):
    id: str
    text: str
    timestamp: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    topics: list[TopicScore] = Field(default_factory=list)


def table_schema(space: EmbeddingSpace) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("metadata", pa.string()),  # JSON text: free-form keys would make a ragged struct
            pa.field("topics", pa.list_(TOPIC)),
            pa.field("topic_labels", pa.list_(pa.string())),  # lower-cased labels, for SQL filters
            pa.field("vector", pa.list_(pa.float32(), space.dim)),
        ],
        metadata={SPACE_KEY: space.model_dump_json().encode(), FORMAT_KEY: FORMAT.encode()},
    )


def space_of(schema: pa.Schema) -> EmbeddingSpace | None:
    raw = (schema.metadata or {}).get(SPACE_KEY)
    return EmbeddingSpace.model_validate_json(raw) if raw else None


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def to_arrow(docs: Sequence[StoredDocument], vectors: np.ndarray, schema: pa.Schema) -> pa.Table:
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1), pa.float32())
    columns = {
        "id": [d.id for d in docs],
        "text": [d.text for d in docs],
        "timestamp": [_utc(d.timestamp) for d in docs],
        "metadata": [json.dumps(d.metadata, ensure_ascii=False) for d in docs],
        "topics": [[{"label": t.label, "score": t.score, "confidence": t.confidence} for t in d.topics] for d in docs],
        "topic_labels": [sorted({t.label.lower() for t in d.topics}) for d in docs],
        "vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
    }
    return pa.table(columns, schema=schema)


def from_row(row: dict[str, Any]) -> StoredDocument:
    return StoredDocument(
        id=row["id"],
        text=row["text"],
        timestamp=_utc(row["timestamp"]),
        metadata=json.loads(row["metadata"] or "{}"),
        topics=[
            TopicScore(label=t["label"], score=float(t["score"]), confidence=t.get("confidence"))
            for t in row["topics"] or []
        ],
    )


def from_arrow(table: pa.Table) -> list[StoredDocument]:
    return [from_row(row) for row in table.select(DOC_COLUMNS).to_pylist()]
