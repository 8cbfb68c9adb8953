"""Background upkeep of the writer's table: the ANN index past a size threshold, and optimize().

Runs in one daemon thread, never on a request: a write only bumps a counter and wakes it.
- Index: once the table has ``ann_threshold`` rows and no vector index, one is built (cosine,
  ``ann_index_type``). LanceDB keeps searching new rows exactly until an optimize folds them in.
- optimize(): compacts small fragments, folds new rows into the indexes (vector and FTS) and
  removes versions older than ``keep_versions_s``, after ``optimize_every_writes`` writes or
  ``optimize_interval_s`` with writes pending. It takes the write lock: compaction rewrites
  fragments, and a concurrent update of the same rows would have to be retried.
A failure here is logged and retried later; it never touches acknowledged data.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from topicserve.settings import Settings

if TYPE_CHECKING:
    from topicserve.store.table import DocumentStore

log = logging.getLogger(__name__)
# Default partition sizes (docs/store.md, "Search"): flat-scanned IVF types (PQ, SQ, RQ) probe
# ann_nprobes partitions of this size (250 at 1M rows: 64 probes scan a quarter of the codes);
# IVF_HNSW_* types keep few, large partitions, each searched through its own graph.
IVF_ROWS_PER_PARTITION = 4_000
HNSW_ROWS_PER_PARTITION = 500_000


class Maintenance:
    def __init__(self, store: DocumentStore, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending = 0
        self._last = time.monotonic()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="store-maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def wrote(self, rows: int) -> None:
        self._pending += 1
        if self._pending >= self.settings.optimize_every_writes or self._needs_index(rows_hint=rows):
            self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=min(30.0, self.settings.optimize_interval_s))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run(force=False)
            except Exception as exc:  # logged and retried on the next wake-up
                log.warning("store maintenance failed: %s: %s", type(exc).__name__, exc)

    # ---- the work ----------------------------------------------------------------------------
    def run(self, *, force: bool = True) -> dict[str, bool]:
        """One round (also callable directly, e.g. by tests and the bench): index, then optimize."""
        done = {"indexed": False, "optimized": False}
        if self.store.table is None:
            return done
        if self._needs_index():
            self.build_index()
            done["indexed"] = True
        due = self._pending >= self.settings.optimize_every_writes or (
            self._pending and time.monotonic() - self._last >= self.settings.optimize_interval_s
        )
        if force or due:
            self.optimize()
            done["optimized"] = True
        return done

    def _needs_index(self, rows_hint: int = 0) -> bool:
        table = self.store.table
        if table is None or self.vector_index() is not None:
            return False
        return table.count_rows() >= self.settings.ann_threshold

    def vector_index(self):
        table = self.store.table
        return next((i for i in table.list_indices() if "vector" in i.columns), None) if table is not None else None

    def build_index(self) -> dict[str, Any]:
        """Train and commit the vector index. Not under the write lock: an index commit does not
        conflict with appends, and the rows written meanwhile are searched exactly until optimize."""
        table, space = self.store.table, self.store.space
        assert space is not None, "a store with a table is bound to a space"
        rows = table.count_rows()
        params = index_params(self.settings, rows, space.dim)
        started = time.monotonic()
        table.create_index("vector", config=index_config(params))  # the column, then the config
        log.info("vector index %s built over %d rows in %.1fs", params, rows, time.monotonic() - started)
        return params

    def optimize(self) -> None:
        with self.store._write_lock:
            pending, self._pending = self._pending, 0
            try:
                self.store.table.optimize(cleanup_older_than=timedelta(seconds=self.settings.keep_versions_s))
            except Exception:
                self._pending += pending
                raise
            self._last = time.monotonic()

    def index_state(self) -> dict[str, Any]:
        table = self.store.table
        state: dict[str, Any] = {"vector": None, "fts": False, "pending_writes": self._pending}
        for index in table.list_indices():
            if "vector" in index.columns:
                state["vector"] = str(index.index_type)
                state["indexed_rows"] = index.num_indexed_rows
                state["unindexed_rows"] = index.num_unindexed_rows
            elif "text" in index.columns:
                state["fts"] = True
        return state


def index_params(s: Settings, rows: int, dim: int) -> dict[str, Any]:
    """The index for a table of ``rows`` vectors: type, partitions, and the type's own knobs."""
    kind = s.ann_index_type
    params: dict[str, Any] = {"index_type": kind, "num_partitions": s.ann_partitions or default_partitions(kind, rows)}
    if kind.endswith("PQ"):
        params["num_sub_vectors"] = s.ann_sub_vectors or max(1, dim // 8)
    if kind.startswith("IVF_HNSW"):
        params |= {"m": s.ann_m, "ef_construction": s.ann_ef_construction}
    return params


def default_partitions(kind: str, rows: int) -> int:
    """IVF partitions when the settings name none: one per ``IVF_ROWS_PER_PARTITION`` rows, or per
    ``HNSW_ROWS_PER_PARTITION`` for the HNSW types."""
    per = HNSW_ROWS_PER_PARTITION if kind.startswith("IVF_HNSW") else IVF_ROWS_PER_PARTITION
    return max(1, math.ceil(rows / per))


def index_config(params: dict[str, Any]):
    """The LanceDB index config object (cosine) for ``index_params``' output."""
    from lancedb import index

    kinds = {
        "IVF_PQ": index.IvfPq,
        "IVF_SQ": index.IvfSq,
        "IVF_RQ": index.IvfRq,
        "IVF_HNSW_SQ": index.IvfHnswSq,
        "IVF_HNSW_PQ": index.IvfHnswPq,
    }
    options = {k: v for k, v in params.items() if k != "index_type"}
    return kinds[params["index_type"]](distance_type="cosine", **options)
