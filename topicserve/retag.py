"""Background re-tag: stored topics follow the taxonomy. Ray-free.

When the taxonomy version changes (a Topics ``user_config`` change, a promoted candidate), the
documents tagged with another version are re-tagged in batches from their stored vectors (and
texts, for LLM backends) and written back through the store's single writer:

- each batch is one commit, guarded: a row rewritten since the batch was read keeps the newer
  write, a row deleted meanwhile stays deleted (topicserve/store/versions.py);
- progress is a count by version in the table, so nothing is kept in memory that a crash could
  lose: a new worker (after a restart) simply continues with the rows still stale;
- new documents keep being written meanwhile (the writer serialises the batches with them).
The State deployment runs ``RetagWorker.run_forever`` in its event loop (deployments/state.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import numpy as np

from topicserve.cache import search_view
from topicserve.tagging import Tagged

log = logging.getLogger(__name__)
BATCH = 256


class Tagger(Protocol):
    async def version(self) -> str: ...

    async def tag(self, texts: Sequence[str], vectors: np.ndarray) -> Tagged: ...


Write = Callable[..., Awaitable[Any]]


async def _in_thread(method, *args):
    return await asyncio.to_thread(method, *args)


class RetagWorker:
    """Re-tags stale rows of ``store`` with ``tagger``; ``write`` runs a store write (the State
    deployment passes its serialising writer; default: a worker thread)."""

    def __init__(self, store, tagger: Tagger, *, batch_size: int = BATCH, write: Write = _in_thread) -> None:
        self.store, self.tagger, self.batch_size, self.write = store, tagger, batch_size, write
        self.version: str | None = None  # the last version the tagger reported
        self.stale = False  # whether the last step found stale rows (cheap status, no count)
        self.batches = 0  # batches written by this worker (for tests and logs)

    async def step(self) -> int:
        """Re-tag one batch; the number of rows rewritten (0: nothing stale, or all rewritten meanwhile)."""
        self.version = version = await self.tagger.version()
        batch = await asyncio.to_thread(self.store.stale, version, self.batch_size)
        self.stale = bool(len(batch))
        if not len(batch):
            return 0
        tagged = await self.tagger.tag(batch.texts, batch.vectors)
        self.version = tagged.version  # the truth for these rows, even if the config moved on meanwhile
        updated = await self.write(self.store.retag, batch, tagged.topics, tagged.nearest, tagged.version)
        self.batches += 1
        log.info("re-tagged %d of %d rows to taxonomy %s", updated, len(batch), tagged.version)
        return updated

    async def run(self, max_batches: int | None = None) -> int:
        """Batches until nothing is stale (or ``max_batches``); the rows rewritten."""
        total, done = 0, 0
        while max_batches is None or done < max_batches:
            updated = await self.step()
            done += 1
            if not updated:
                break
            total += updated
        return total

    async def run_forever(self, idle_s: float = 2.0) -> None:
        """Poll the tagger's version; re-tag while rows are stale. Errors are logged and retried."""
        while True:
            try:
                updated = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store or Topics may be briefly away: try again later
                log.warning("re-tag step failed (will retry): %s: %s", type(exc).__name__, exc)
                updated = 0
            if not updated:
                await asyncio.sleep(idle_s)

    async def status(self, count: bool = True) -> dict[str, Any]:
        """{version, done, total, in_progress}: counted in the table for the last known version;
        ``count=False``: {version, in_progress} from the last step only (no scan: for every search)."""
        if self.version is None:
            return {"version": None, "done": 0, "total": 0, "in_progress": False}
        if not count:
            return {"version": self.version, "in_progress": self.stale}
        progress = await asyncio.to_thread(self.store.progress, self.version)
        return progress | {"in_progress": progress["done"] < progress["total"]}


class LocalState:
    """The in-process stand-in of the State deployment (topicserve/inprocess.py): the store's calls,
    plus the re-tag status and ``retag_now`` (there is no background task without Serve)."""

    def __init__(self, store, tagger: Tagger, *, batch_size: int = BATCH) -> None:
        self.store = store
        self.worker = RetagWorker(store, tagger, batch_size=batch_size)

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    async def retag_status(self, count: bool = True) -> dict[str, Any]:
        self.worker.version = await self.worker.tagger.version()
        return await self.worker.status()  # in-process stores are small: always counted

    async def stats(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.store.stats) | {"retag": await self.retag_status()}

    async def search_view(self, vector, space, k: int, known: str | None = None, **filters: Any) -> dict[str, Any]:
        """The State deployment's one-round-trip /search read (deployments/state.py), in-process."""
        retag = await self.retag_status(count=False)
        mode = filters.get("mode", "vector")
        return await search_view(
            self.store.generation(),
            retag,
            known,
            vector,
            mode,
            lambda: asyncio.to_thread(self.store.search, vector, space, k, **filters),
        )

    async def retag_now(self) -> int:
        return await self.worker.run()
