"""Documents, vectors and topic assignments, persisted under a storage URI. Ray-free.

Layout under the URI::

    manifest.json     {"format": 1, "space": {...}, "segments": ["seg-000001.jsonl", ...]}
    seg-000001.jsonl  one JSON line per document, vector as base64 float32

A write puts a new segment first and then replaces the manifest; the manifest is the commit
point, so a batch is either fully visible after a restart or not at all, and nothing is
acknowledged before both are durable. Local directories use fsync + atomic rename; other URIs
(s3://, gs://, ...) go through smart_open, whose object-store writes become visible on close.
Segments are merged every ``compact_every`` writes so start-up stays one pass over few files.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from topicserve.errors import NotFound
from topicserve.space import EmbeddingSpace
from topicserve.topics import TopicScore
from topicserve.trends import trend_report

log = logging.getLogger(__name__)
FORMAT = 1


class StoredDocument(BaseModel):
    id: str
    text: str
    timestamp: datetime
    metadata: dict[str, Any] = Field(default_factory=dict)
    topics: list[TopicScore] = Field(default_factory=list)


class _Storage:
    """Whole-file reads and atomic whole-file writes under a local directory or a smart_open URI."""

    def __init__(self, uri: str) -> None:
        self.remote = "://" in uri and not uri.startswith("file://")
        self.uri = uri.rstrip("/")
        if not self.remote:
            self.root = Path(uri.removeprefix("file://")).expanduser().resolve()
            self.root.mkdir(parents=True, exist_ok=True)

    def read(self, name: str) -> bytes | None:
        if not self.remote:
            path = self.root / name
            return path.read_bytes() if path.exists() else None
        import smart_open

        try:
            with smart_open.open(f"{self.uri}/{name}", "rb") as fh:
                return fh.read()
        except (FileNotFoundError, OSError) as exc:
            if "NoSuchKey" in repr(exc) or isinstance(exc, FileNotFoundError) or "404" in str(exc):
                return None
            raise

    def write(self, name: str, data: bytes) -> None:
        if self.remote:
            import smart_open

            with smart_open.open(f"{self.uri}/{name}", "wb") as fh:
                fh.write(data)
            return
        tmp = self.root / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / name)
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def delete(self, name: str) -> None:
        if not self.remote:  # object stores: old segments stay as garbage; the manifest ignores them
            (self.root / name).unlink(missing_ok=True)


def _encode_vector(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii")


def _decode_vector(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4")


class DocumentStore:
    """In-memory index (a float32 matrix) backed by segment files; the single writer owns it."""

    def __init__(self, uri: str, *, compact_every: int = 64) -> None:
        self._storage = _Storage(uri)
        self.uri = uri
        self.compact_every = compact_every
        self.space: EmbeddingSpace | None = None
        self._segments: list[str] = []
        self._seq = 0
        self._docs: dict[str, StoredDocument] = {}
        self._row: dict[str, int] = {}
        self._ids: list[str] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._load()

    # ---- persistence -------------------------------------------------------------------------
    def _load(self) -> None:
        raw = self._storage.read("manifest.json")
        if raw is None:
            return
        manifest = json.loads(raw)
        if manifest.get("format") != FORMAT:
            raise RuntimeError(f"unsupported store format {manifest.get('format')!r} in {self.uri}")
        self.space = EmbeddingSpace.model_validate(manifest["space"]) if manifest.get("space") else None
        self._segments = list(manifest.get("segments", []))
        self._seq = int(manifest.get("seq", len(self._segments)))
        for name in self._segments:
            data = self._storage.read(name)
            if data is None:
                raise RuntimeError(f"store {self.uri} is damaged: manifest lists {name} but it is missing")
            for line in data.splitlines():
                rec = json.loads(line)
                vector = _decode_vector(rec.pop("vector"))
                self._put(StoredDocument.model_validate(rec), vector)
        log.info("store %s restored: %d documents in %d segments", self.uri, len(self._docs), len(self._segments))

    def _write_manifest(self) -> None:
        manifest = {
            "format": FORMAT,
            "space": self.space.model_dump() if self.space else None,
            "segments": self._segments,
            "seq": self._seq,
        }
        self._storage.write("manifest.json", json.dumps(manifest, indent=1).encode())

    def _segment_bytes(self, ids: Sequence[str]) -> bytes:
        lines = []
        for doc_id in ids:
            rec = self._docs[doc_id].model_dump(mode="json")
            rec["vector"] = _encode_vector(self._matrix[self._row[doc_id]])
            lines.append(json.dumps(rec, ensure_ascii=False))
        return ("\n".join(lines) + "\n").encode()

    def _append_segment(self, ids: Sequence[str]) -> None:
        self._seq += 1
        name = f"seg-{self._seq:06d}.jsonl"
        self._storage.write(name, self._segment_bytes(ids))
        self._segments.append(name)
        self._write_manifest()

    def _compact(self) -> None:
        old = self._segments
        self._segments = []
        self._append_segment(self._ids)
        for name in old:
            self._storage.delete(name)

    # ---- in-memory index ---------------------------------------------------------------------
    def _put(self, doc: StoredDocument, vector: np.ndarray) -> None:
        if self._matrix.shape[1] != vector.shape[0]:
            if self._ids:
                raise RuntimeError(f"vector of dim {vector.shape[0]} in a {self._matrix.shape[1]}-dim store")
            self._matrix = np.zeros((16, vector.shape[0]), dtype=np.float32)
        row = self._row.get(doc.id)
        if row is None:
            row = len(self._ids)
            if row >= self._matrix.shape[0]:
                grown = np.zeros((max(16, 2 * self._matrix.shape[0]), self._matrix.shape[1]), dtype=np.float32)
                grown[:row] = self._matrix[:row]
                self._matrix = grown
            self._row[doc.id] = row
            self._ids.append(doc.id)
        self._matrix[row] = vector
        self._docs[doc.id] = doc

    # ---- public API --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def bind(self, space: EmbeddingSpace) -> None:
        """Record the space of an empty store, or check that ``space`` is the recorded one."""
        if self.space is None:
            self.space = space
            self._write_manifest()
        else:
            self.space.check_compatible(space, what="running embedder")

    def upsert(self, docs: Sequence[StoredDocument], vectors: np.ndarray, space: EmbeddingSpace) -> None:
        """Store a batch atomically: after this returns, a restart brings every document back."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(docs), space.dim):
            raise ValueError(f"expected vectors of shape {(len(docs), space.dim)}, got {vectors.shape}")
        self.bind(space)
        for doc, vector in zip(docs, vectors, strict=True):
            self._put(doc, vector)
        if len(self._segments) >= self.compact_every:
            self._compact()
        else:
            self._append_segment(list(dict.fromkeys(d.id for d in docs)))

    def get(self, doc_id: str) -> StoredDocument:
        try:
            return self._docs[doc_id]
        except KeyError:
            raise NotFound(f"no document with id {doc_id!r}", field="id") from None

    def documents(self) -> Iterator[StoredDocument]:
        return (self._docs[i] for i in self._ids)

    def search(
        self,
        vector: np.ndarray,
        space: EmbeddingSpace,
        k: int = 10,
        *,
        topic: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[tuple[StoredDocument, float]]:
        """Best ``k`` documents by cosine similarity, after topic and time filters."""
        if self.space is None:
            return []
        self.space.check_compatible(space, what="query")
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.space.dim:
            self.space.check_compatible(space.model_copy(update={"dim": vector.shape[0]}), what="query vector")
        n = len(self._ids)
        scores = self._matrix[:n] @ vector
        if topic is not None or since is not None or until is not None:
            keep = np.fromiter((self._matches(self._docs[i], topic, since, until) for i in self._ids), bool, n)
            scores = np.where(keep, scores, -np.inf)
        k = min(k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=int)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._docs[self._ids[i]], float(scores[i])) for i in top if np.isfinite(scores[i])]

    def stats(self) -> dict[str, Any]:
        return {
            "documents": len(self._ids),
            "segments": len(self._segments),
            "space": self.space.model_dump() if self.space else None,
            "storage_uri": self.uri,
        }

    def trends(
        self, now: datetime, window: timedelta, baseline: timedelta, bin: timedelta, **options: Any
    ) -> dict[str, Any]:
        """Trending topics and candidate topics (discovery needs the vectors, which live here)."""
        docs = [self._docs[i] for i in self._ids]
        vectors = self._matrix[: len(docs)]
        return trend_report(docs, vectors, now=now, window=window, baseline=baseline, bin=bin, **options)

    @staticmethod
    def _matches(doc: StoredDocument, topic: str | None, since: datetime | None, until: datetime | None) -> bool:
        if topic is not None and not any(t.label.lower() == topic.lower() for t in doc.topics):
            return False
        if since is not None and doc.timestamp < since:
            return False
        return until is None or doc.timestamp < until
