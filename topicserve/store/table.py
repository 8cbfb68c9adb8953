"""DocumentStore: one LanceDB table of documents, topics and vectors. Ray-free.

Every write (upsert, delete) is one LanceDB commit: a new table version appears atomically or not
at all, so a write that fails part-way (disk full, read-only directory, an S3 PUT refused) leaves
the table exactly as it was and raises StoreUnavailable; the next write starts from that version.
A write that returned has committed: it survives a process kill, a restart and compaction.
The embedding space lives in the table's schema metadata, so the mismatch guard holds on reopen.
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import lancedb
import numpy as np

from topicserve.errors import InvalidInput, NotFound, StoreUnavailable, TopicServeError
from topicserve.settings import Settings, get_settings
from topicserve.space import EmbeddingSpace
from topicserve.store import connect, legacy
from topicserve.store.documents import StoredDocument, doc_columns, from_arrow, space_of, table_schema, to_arrow
from topicserve.store.maintenance import Maintenance
from topicserve.store.query import where
from topicserve.store.search import Mode, SearchOptions, run_search

Hits = list[tuple[StoredDocument, float]]  # an alias: the `list` method shadows the builtin in the class
log = logging.getLogger(__name__)
WRITE_FAILED = "the store could not commit this write; nothing of it was stored. Retry shortly."
READ_FAILED = "the store could not be read just now. Retry shortly."


class DocumentStore:
    """The single writer's view of the table; readers may open the same URI (read_consistency_s)."""

    def __init__(
        self, uri: str, *, settings: Settings | None = None, background: bool = True, table: str | None = None
    ) -> None:
        self.settings = settings or get_settings()
        self.table_name = table or self.settings.store_table  # one table per embedding space
        connect.check_scheme(uri)
        if not connect.is_remote(uri):
            legacy.refuse_old_format(connect.local_path(uri))
        interval = self.settings.read_consistency_s
        self._db = lancedb.connect(
            connect.db_uri(uri),
            storage_options=connect.storage_options(uri, self.settings),
            read_consistency_interval=None if interval is None else timedelta(seconds=interval),
        )
        self._write_lock = threading.RLock()  # one writer per table: writes and compaction in turn
        self._epoch, self._commits = uuid.uuid4().hex[:12], 0  # `generation`: the search cache's key
        self._table = self._open()
        self._upgraded = False  # the writer adds columns of later releases when it binds (versions.py)
        self.space = space_of(self._table.schema) if self._table is not None else None
        self.maintenance = Maintenance(self, self.settings)
        if background:
            self.maintenance.start()

    def _open(self):
        try:
            if self.table_name in self._db.list_tables().tables:
                return self._db.open_table(self.table_name)
        except Exception as exc:
            log.warning("store open failed: %s: %s", type(exc).__name__, exc)
            raise StoreUnavailable(READ_FAILED) from None
        return None

    def close(self) -> None:
        self.maintenance.stop()

    @property
    def table(self):
        return self._table

    @property
    def generation(self) -> str:
        """Changes after every commit attempt of this handle (cheap: no I/O). Bumped once the commit
        returned or failed, so a reader that sees a new generation also sees that write."""
        return f"{self._epoch}:{self._commits}"

    # ---- writes ------------------------------------------------------------------------------
    def _commit(self, action, *args):
        """Run one committing LanceDB call; any failure is a 503 with the table unchanged."""
        try:
            return action(*args)
        except TopicServeError:
            raise
        except Exception as exc:
            log.warning("store write failed (table unchanged): %s: %s", type(exc).__name__, exc)
            self._refresh()
            raise StoreUnavailable(WRITE_FAILED) from None
        finally:
            self._commits += 1

    def _refresh(self) -> None:
        try:
            if self._table is not None:
                self._table.checkout_latest()
        except Exception:  # the next call reports it
            pass

    def _create(self, space: EmbeddingSpace):
        from lancedb.index import FTS, BTree, LabelList

        table = self._db.create_table(self.table_name, schema=table_schema(space))
        table.create_index("text", config=FTS(with_position=False))  # native (Lance) FTS, not tantivy
        # Scalar indexes for the filters (id lookups and merges, topic, time); optimize() updates them.
        table.create_index("id", config=BTree())
        table.create_index("topic_labels", config=LabelList())
        table.create_index("timestamp", config=BTree())
        table.create_index("taxonomy_version", config=BTree())  # re-tag: stale rows, progress counts
        return table

    def _upgrade(self, space: EmbeddingSpace) -> None:
        from topicserve.store.versions import upgrade

        added = self._commit(upgrade, self._table, space)
        self._upgraded = True
        if added:
            log.info("store upgraded: added columns %s (taxonomy version unknown until re-tagged)", added)

    def bind(self, space: EmbeddingSpace) -> None:
        """Create the table for ``space``, or check that ``space`` is the one recorded in it."""
        with self._write_lock:
            if self.space is None:
                self._table = self._commit(self._create, space)
                self.space = space
            else:
                self.space.check_compatible(space, what="running embedder", table=self.table_name)
                if not self._upgraded:  # once per process: upsert binds on every write
                    self._upgrade(space)

    def upsert(self, docs: Sequence[StoredDocument], vectors: np.ndarray, space: EmbeddingSpace) -> None:
        """Insert or replace a batch in one commit: after this returns, every document is durable."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(docs), space.dim):
            raise ValueError(f"expected vectors of shape {(len(docs), space.dim)}, got {vectors.shape}")
        if not docs:
            return
        last = {d.id: i for i, d in enumerate(docs)}  # a repeated id: the last copy wins
        keep = sorted(last.values())
        with self._write_lock:
            self.bind(space)
            data = to_arrow([docs[i] for i in keep], vectors[keep], self._table.schema)
            merge = self._table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
            self._commit(merge.execute, data)
        self.maintenance.wrote(len(keep))

    def delete(self, ids: Sequence[str]) -> int:
        """Delete these ids in one commit; the number that existed."""
        return self._delete(where(ids=list(dict.fromkeys(ids))) or "false")

    def delete_where(
        self, topic: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> int:
        """Delete every document matching the filter in one commit; an empty filter is refused."""
        predicate = where(topic=topic, since=since, until=until)
        if predicate is None:
            raise InvalidInput("a delete filter needs topic, since or until", field="filter")
        return self._delete(predicate)

    def _delete(self, predicate: str) -> int:
        if self._table is None:
            return 0
        with self._write_lock:
            result = self._commit(self._table.delete, predicate)
        deleted = int(getattr(result, "num_deleted_rows", 0) or 0)
        self.maintenance.wrote(deleted)
        return deleted

    def retag(self, batch, topics, nearest, version: str) -> int:
        """Write re-computed topics for rows nobody rewrote since ``batch`` was read, in one commit."""
        from topicserve.store.versions import write_retagged

        if self._table is None or not len(batch):
            return 0
        with self._write_lock:
            updated = self._commit(write_retagged, self, batch, topics, nearest, version)
        self.maintenance.wrote(updated)
        return updated

    # ---- reads -------------------------------------------------------------------------------
    def stale(self, version: str, limit: int):
        """Up to ``limit`` rows whose topics were computed with another taxonomy version (StaleBatch)."""
        from topicserve.store.versions import StaleBatch, read_stale

        if self._table is None:
            return StaleBatch([], [], np.zeros((0, 0), np.float32))
        return self._read(read_stale, self, version, limit)

    def progress(self, version: str) -> dict[str, Any]:
        """{version, done, total}: how many rows carry ``version`` (derived from the table alone)."""
        from topicserve.store.versions import progress

        return self._read(progress, self, version)

    def _read(self, action, *args):
        try:
            return action(*args)
        except TopicServeError:
            raise
        except Exception as exc:
            log.warning("store read failed: %s: %s", type(exc).__name__, exc)
            raise StoreUnavailable(READ_FAILED) from None

    def __len__(self) -> int:
        return 0 if self._table is None else self._read(self._table.count_rows)

    def get(self, doc_id: str) -> StoredDocument:
        found = self.get_many([doc_id])
        if not found:
            raise NotFound(f"no document with id {doc_id!r}", field="id")
        return found[0]

    def get_many(self, ids: Sequence[str]) -> list[StoredDocument]:
        if self._table is None or not ids:
            return []
        query = self._table.search().where(where(ids=list(ids))).select(doc_columns(self._table.schema)).limit(len(ids))
        return from_arrow(self._read(query.to_arrow))

    def list(
        self,
        topic: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[StoredDocument], str | None]:
        """A page of documents in id order, and the cursor of the next page (None at the end)."""
        if self._table is None:
            return [], None
        from lancedb.query import ColumnOrdering

        after = decode_cursor(cursor) if cursor else None
        query = self._table.search().select(doc_columns(self._table.schema)).limit(limit + 1)
        predicate = where(topic=topic, since=since, until=until, after_id=after)
        if predicate:
            query = query.where(predicate)
        query = query.order_by([ColumnOrdering(column_name="id", ascending=True)])
        docs = from_arrow(self._read(query.to_arrow))
        more = len(docs) > limit
        docs = docs[:limit]
        return docs, (encode_cursor(docs[-1].id) if more else None)

    def documents(self) -> Iterator[StoredDocument]:
        cursor = None
        while True:
            page, cursor = self.list(limit=1000, cursor=cursor)
            yield from page
            if cursor is None:
                return

    def search(
        self,
        vector: np.ndarray | None,
        space: EmbeddingSpace,
        k: int = 10,
        *,
        topic: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        mode: Mode = "vector",
        text: str | None = None,
        exact: bool = False,
    ) -> Hits:
        """Best ``k`` documents by cosine similarity (vector), BM25 (keyword) or rank fusion (hybrid)."""
        if self.space is None or self._table is None:
            return []
        self.space.check_compatible(space, what="query", table=self.table_name)
        if vector is not None:
            vector = np.asarray(vector, dtype=np.float32).reshape(-1)
            if vector.shape[0] != self.space.dim:
                wrong = space.model_copy(update={"dim": vector.shape[0]})
                self.space.check_compatible(wrong, what="query vector", table=self.table_name)
        options = SearchOptions(
            k=k, mode=mode, text=text, where=where(topic=topic, since=since, until=until), exact=exact
        )
        return self._read(run_search, self._table, vector, options, self.settings)

    def stats(self) -> dict[str, Any]:
        """Documents, table version, index state and space; never the storage URI (/readyz shows it)."""
        if self._table is None:
            empty = {"vector": None, "fts": False}
            return {"table": self.table_name, "documents": 0, "version": 0, "index": empty, "space": None}
        return {
            "table": self.table_name,
            "documents": len(self),
            "version": self._table.version,
            "index": self.maintenance.index_state(),
            "space": self.space.model_dump() if self.space else None,
        }

    def trends(
        self, now: datetime, window: timedelta, baseline: timedelta, bin: timedelta, **options: Any
    ) -> dict[str, Any]:
        """Trending topics from a column query over the time range, and candidate topics."""
        from topicserve.store.columns import trend_report_from_table

        if self._table is None:
            from topicserve.trends import empty_report

            return empty_report()
        return self._read(
            lambda: trend_report_from_table(self, now=now, window=window, baseline=baseline, bin=bin, **options)
        )


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this server gave out", field="cursor") from None
