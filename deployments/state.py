"""State deployment: the single writer of the LanceDB table (documents, vectors, topics).

Exactly one replica (one writer per table). Every store call runs in a worker thread
(`asyncio.to_thread`), so the replica's event loop never blocks: reads (get, search, trends, list)
run side by side and never wait behind a slow call. Writes (bind, upsert, delete) are serialised
by an `asyncio.Lock`, so batches commit one after another in arrival order. Index builds and
compaction run in the store's own background thread (topicserve/store/maintenance.py).
"""

from __future__ import annotations

import asyncio

from ray import serve

from deployments.metrics import replica_metrics
from topicserve.settings import get_settings
from topicserve.store import DocumentStore


@serve.deployment(
    name="State",
    num_replicas=1,
    # One call at a time runs on its event loop; the rest wait here, bounded (then a JSON 503).
    max_ongoing_requests=32,
    max_queued_requests=64,
    ray_actor_options={"num_cpus": 0.25},
)
class State:
    def __init__(self) -> None:
        self.store = DocumentStore(get_settings().storage_uri)
        self._writes = asyncio.Lock()
        self.metrics = replica_metrics()
        self.metrics.store_size(len(self.store))

    async def _write(self, method, *args, **kwargs):
        async with self._writes:
            result = await asyncio.to_thread(method, *args, **kwargs)
            self.metrics.store_size(await asyncio.to_thread(len, self.store))
            return result

    # ---- writes (one at a time) ----------------------------------------------------------------
    async def bind(self, space):
        return await self._write(self.store.bind, space)

    async def upsert(self, docs, vectors, space):
        return await self._write(self.store.upsert, docs, vectors, space)

    async def delete(self, ids):
        return await self._write(self.store.delete, ids)

    async def delete_where(self, topic=None, since=None, until=None):
        return await self._write(self.store.delete_where, topic, since, until)

    # ---- reads (concurrent, never behind a write) ---------------------------------------------
    async def existing(self, ids):
        """Which of ``ids`` the store holds (backfill skips them when it resumes)."""
        return await asyncio.to_thread(lambda: [d.id for d in self.store.get_many(ids)])

    async def get(self, doc_id):
        return await asyncio.to_thread(self.store.get, doc_id)

    async def list(self, topic=None, since=None, until=None, limit=100, cursor=None):
        return await asyncio.to_thread(self.store.list, topic, since, until, limit, cursor)

    async def search(self, vector, space, k, **filters):
        return await asyncio.to_thread(self.store.search, vector, space, k, **filters)

    async def trends(self, now, window, baseline, bin, **options):
        return await asyncio.to_thread(self.store.trends, now, window, baseline, bin, **options)

    async def stats(self):
        return await asyncio.to_thread(self.store.stats)

    async def sample_vectors(self, limit: int, min_count: int = 1):
        """(document count, up to ``limit`` stored vectors or None below ``min_count``): the pool the
        Topics deployment refines its scores from (topicserve/topics/refine.py)."""
        from topicserve.store.sample import sample_vectors

        return await asyncio.to_thread(sample_vectors, self.store, limit, min_count)
