"""A small append-mostly LanceDB table next to ``documents`` (feedback, query log). Ray-free.

Opened on the same database as the documents table (a local directory or ``s3://``, the same
object-store options and retries, topicserve/store/connect.py), created on first write. Every
append or delete is one LanceDB commit, so a failed write leaves the table as it was and raises
``StoreUnavailable`` (503), as the documents table does.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pyarrow as pa

from topicserve.errors import StoreUnavailable, TopicServeError
from topicserve.settings import Settings, get_settings
from topicserve.store import connect

log = logging.getLogger(__name__)
WRITE_FAILED = "the store could not commit this write; nothing of it was stored. Retry shortly."
READ_FAILED = "the store could not be read just now. Retry shortly."


def open_db(uri: str, settings: Settings | None = None):
    """The LanceDB database under ``uri``, connected as DocumentStore connects (same options)."""
    # Imported here, as topicserve.store does: lancedb is ~1.5 s of CPU to import, and the Ingress (which
    # imports this module through topicserve.feedback for its types) never opens a table itself.
    import lancedb

    settings = settings or get_settings()
    connect.check_scheme(uri)
    interval = settings.read_consistency_s
    return lancedb.connect(
        connect.db_uri(uri),
        storage_options=connect.storage_options(uri, settings),
        read_consistency_interval=None if interval is None else timedelta(seconds=interval),
    )


class SideTable:
    """One named table of ``schema``: append, delete by predicate, scan. Writes are serialised here."""

    def __init__(self, db, name: str, schema: pa.Schema) -> None:
        self._db, self.name, self.schema = db, name, schema
        self._lock = threading.Lock()
        self._table = self._guard(self._open, READ_FAILED)

    def _open(self):
        return self._db.open_table(self.name) if self.name in self._db.list_tables().tables else None

    def _guard(self, action, message: str, *args):
        try:
            return action(*args)
        except TopicServeError:
            raise
        except Exception as exc:
            log.warning("%s table: %s: %s", self.name, type(exc).__name__, exc)
            raise StoreUnavailable(message) from None

    @property
    def version(self) -> int:
        """The table's committed version (0 before the first write): moves on every commit."""
        return 0 if self._table is None else int(self._table.version)

    def append(self, rows: list[dict]) -> None:
        if not rows:
            return
        data = pa.Table.from_pylist(rows, schema=self.schema)
        with self._lock:
            if self._table is None:
                self._table = self._guard(lambda: self._db.create_table(self.name, data=data), WRITE_FAILED)
            else:
                self._guard(self._table.add, WRITE_FAILED, data)

    def delete(self, predicate: str) -> int:
        if self._table is None:
            return 0
        with self._lock:
            result = self._guard(self._table.delete, WRITE_FAILED, predicate)
        return int(getattr(result, "num_deleted_rows", 0) or 0)

    def count(self, predicate: str | None = None) -> int:
        if self._table is None:
            return 0
        return int(self._guard(self._table.count_rows, READ_FAILED, predicate))

    def scan(self, predicate: str | None = None, columns: list[str] | None = None) -> pa.Table:
        """Every row matching ``predicate`` (all rows when None); callers bound what they keep."""
        if self._table is None:
            return self.schema.empty_table() if columns is None else self.schema.empty_table().select(columns)
        query = self._table.search()
        if predicate:
            query = query.where(predicate)
        if columns:
            query = query.select(columns)
        return self._guard(query.limit(None).to_arrow, READ_FAILED)
