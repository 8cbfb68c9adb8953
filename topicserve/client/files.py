"""Documents from a JSONL or Parquet file, one at a time, each with where it came from.

JSONL: one document per line as the API takes it (``id``, ``text``, optional ``timestamp`` and
``metadata``), passed through unchanged: the service validates it. Parquet: the columns ``id``,
``text``, ``timestamp`` and ``metadata`` (a struct or a JSON string); any other column goes into
``metadata``. Parquet timestamps without a time zone are taken as UTC (pandas writes them so).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
DOCUMENT_COLUMNS = ("id", "text", "timestamp", "metadata")


class InputFileError(Exception):
    """The file cannot be read as documents; the message names the file and line or row."""


def _kind(path: Path) -> str:
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise InputFileError(f"{path}: expected a .jsonl or .parquet file")


def count_records(path: Path) -> int:
    """How many documents the file holds (for the progress bar)."""
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq  # here, not at the top: the other commands need not load pyarrow

        return pq.ParquetFile(path).metadata.num_rows
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def _jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{path} line {n}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise InputFileError(f"{path} line {n}: expected a JSON object, got {type(record).__name__}")
            yield f"line {n}", record


def plain(value: Any) -> Any:
    """A Parquet cell as a JSON value: timestamps as ISO 8601 with a zone, decimals as floats."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def parquet_document(row: dict[str, Any], where: str) -> dict:
    metadata = row.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError:
            raise InputFileError(f"{where}: column metadata is not a JSON object") from None
    if isinstance(metadata, list):  # a Parquet map column reads as [(key, value), ...]
        metadata = dict(metadata)
    extra = {k: v for k, v in row.items() if k not in DOCUMENT_COLUMNS and v is not None}
    doc = {k: row[k] for k in ("id", "text", "timestamp") if row.get(k) is not None}
    if metadata or extra:
        doc["metadata"] = {**metadata, **extra}
    return plain(doc)


def _parquet(path: Path) -> Iterator[tuple[str, dict]]:
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            n += 1
            yield f"row {n}", parquet_document(row, f"{path} row {n}")


def read_documents(path: Path) -> Iterator[tuple[str, dict]]:
    """``(where, document)`` pairs: ``where`` is "line N" (JSONL) or "row N" (Parquet)."""
    return _parquet(path) if _kind(path) == "parquet" else _jsonl(path)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """itertools.batched, which Python 3.11 lacks."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
