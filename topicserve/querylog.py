"""The query log's request side: rows are queued and written in batches, off the request path. Ray-free.

``record`` only appends to an in-memory list (bounded) and schedules a flush; the flush calls the
writer (``State.log_queries``) in a background task. A failing or slow writer never fails or
slows a search: the error is logged and that batch is dropped (a log, not a ledger).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from topicserve.store.querylog import QueryRow

log = logging.getLogger(__name__)
Sink = Callable[[Sequence[QueryRow]], Awaitable[object]]
MAX_PENDING = 10_000  # past this (the writer is down), new rows are dropped, not queued


class QueryLog:
    def __init__(self, sink: Sink, *, enabled: bool, batch: int = 64, every_s: float = 2.0) -> None:
        self.sink, self.enabled, self.batch, self.every_s = sink, enabled, batch, every_s
        self.pending: list[QueryRow] = []
        self.dropped = 0
        self._task: asyncio.Task | None = None

    def record(self, query: str, result_ids: list[str], latency_ms: float, request_id: str | None) -> None:
        """Queue one row; never raises, never waits."""
        if not self.enabled:
            return
        try:
            if len(self.pending) >= MAX_PENDING:
                self.dropped += 1
                return
            row = QueryRow(
                query=query,
                timestamp=datetime.now(UTC),
                result_ids=result_ids,
                latency_ms=latency_ms,
                request_id=request_id,
            )
            self.pending.append(row)
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._later())
        except Exception:  # the log must never fail a search
            log.warning("query log: could not queue a row", exc_info=True)

    async def _later(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.every_s
        while self.pending and len(self.pending) < self.batch and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(min(0.05, self.every_s))
        await self.flush()

    async def flush(self) -> int:
        """Write what is queued now; the number of rows written (0 when the writer failed)."""
        rows, self.pending = self.pending, []
        if not rows:
            return 0
        try:
            await self.sink(rows)
        except Exception as exc:
            self.dropped += len(rows)
            log.warning("query log: %d rows not written (%s)", len(rows), type(exc).__name__)
            return 0
        return len(rows)
