"""The JSONL-segment store of topicserve <= 0.x (format 1): detected, refused, read once to migrate.

Layout: ``manifest.json`` ({"format": 1, "space": {...}, "segments": [...]}) and one JSONL file per
segment, a document a line with its vector as base64 little-endian float32. Only local directories.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from topicserve.space import EmbeddingSpace

MIGRATE = "python -m topicserve store migrate --from OLD_DIR --to NEW_DIR"


class LegacyStoreError(RuntimeError):
    """The storage URI holds a store in the old format: it must be migrated, not opened."""


def is_legacy(path: Path) -> bool:
    return (path / "manifest.json").is_file()


def refuse_old_format(path: Path) -> None:
    if is_legacy(path):
        raise LegacyStoreError(
            "the storage directory holds a store in the old JSONL format (manifest.json); migrate it "
            f"once with `{MIGRATE}` and point TOPICSERVE_STORAGE_URI at the new directory"
        )


def read_space(path: Path) -> EmbeddingSpace | None:
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest.get("format") != 1:
        raise LegacyStoreError(f"unknown old store format {manifest.get('format')!r}")
    return EmbeddingSpace.model_validate(manifest["space"]) if manifest.get("space") else None


def read_records(path: Path) -> Iterator[tuple[dict, np.ndarray]]:
    """(document fields, vector) in commit order; a later copy of an id replaces an earlier one."""
    latest: dict[str, tuple[dict, np.ndarray]] = {}
    for name in json.loads((path / "manifest.json").read_text()).get("segments", []):
        segment = path / name
        if not segment.is_file():
            raise LegacyStoreError(f"old store is damaged: the manifest lists {name}, which is missing")
        for line in segment.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                vector = np.frombuffer(base64.b64decode(rec.pop("vector")), dtype="<f4")
                latest.pop(rec["id"], None)
                latest[rec["id"]] = (rec, vector)
    yield from latest.values()
