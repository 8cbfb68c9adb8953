"""State deployment: the single writer of the LanceDB table (documents, vectors, topics).

Exactly one replica (one writer per table). Every store call runs in a worker thread
(`asyncio.to_thread`), so the replica's event loop never blocks: reads (get, search, trends, list)
run side by side and never wait behind a slow call. Writes (bind, upsert, delete) are serialised
by an `asyncio.Lock`, so batches commit one after another in arrival order. Index builds and
compaction run in the store's own background thread (topicserve/store/maintenance.py).

The State also re-tags stored documents when the taxonomy version changes (topicserve/retag.py):
a task on its event loop polls the Topics deployment's version, and rows of another version are
re-tagged in batches and written through the same serialising lock as every other write.

The side tables beside the documents (feedback, query log: topicserve/store/service.py) are
written here too, under a lock of their own.
"""

from __future__ import annotations

import asyncio

from ray import serve
from ray.serve.handle import DeploymentHandle

from deployments.handles import HandleClient
from deployments.metrics import replica_metrics
from topicserve.cache import search_view
from topicserve.retag import RetagWorker
from topicserve.settings import get_settings
from topicserve.store import DocumentStore
from topicserve.store.service import SideStores


@serve.deployment(
    name="State",
    num_replicas=1,
    # One call at a time runs on its event loop; the rest wait here, bounded (then a JSON 503).
    max_ongoing_requests=32,
    max_queued_requests=64,
    ray_actor_options={"num_cpus": 0.25},
)
class State:
    # Ray Serve awaits an async constructor (the re-tag task needs the replica's event loop).
    async def __init__(self, topics: DeploymentHandle | None = None) -> None:  # type: ignore[misc]
        settings = get_settings()
        self.store = DocumentStore(settings.storage_uri)
        self.side = SideStores(self.store, settings.storage_uri)  # feedback and query-log tables
        self._side_writes = asyncio.Lock()  # their own: a document write never waits behind the query log
        self._writes = asyncio.Lock()
        self.metrics = replica_metrics()
        self.metrics.store_size(len(self.store))
        self.retag: RetagWorker | None = None
        if topics is not None:
            tagger = HandleClient(topics, timeout_s=settings.handle_timeout_s)  # has .version() and .tag()
            self.retag = RetagWorker(self.store, tagger, batch_size=settings.retag_batch_size, write=self._write)
            self._retag_task = asyncio.get_running_loop().create_task(self.retag.run_forever(settings.retag_idle_s))

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

    async def search_view(self, vector, space, k, known=None, **filters):
        """One round trip for /search: {generation, retag, hits}; ``hits`` is None when the caller's kept
        answer (``known``) is of this generation, or it sent no vector for a search that needs one."""
        retag = await self.retag_status(count=False)
        mode = filters.get("mode", "vector")
        return await search_view(
            self.generation(), retag, known, vector, mode, lambda: self.search(vector, space, k, **filters)
        )

    async def trends(self, now, window, baseline, bin, **options):
        return await asyncio.to_thread(self.store.trends, now, window, baseline, bin, **options)

    async def stats(self):
        stats = await asyncio.to_thread(self.store.stats)
        return stats | {"retag": await self.retag_status()}

    async def retag_status(self, count: bool = True):
        """{version, done, total, in_progress} of the background re-tag (counted in the table);
        ``count=False``: {version, in_progress} from memory (search and trends ask on every call)."""
        if self.retag is None:
            return {"version": None, "done": 0, "total": 0, "in_progress": False}
        return await self.retag.status(count)

    # ---- feedback, query log, the search cache's generation (issue 13 section 4) --------------
    def generation(self) -> str:
        """Changes with every commit of the documents table: no thread, no I/O (asked on every search)."""
        return self.side.generation()

    async def _side_write(self, method, *args):
        async with self._side_writes:
            return await asyncio.to_thread(method, *args)

    async def feedback_add(self, doc_id, items, request_id=None):
        return await self._side_write(self.side.feedback_add, doc_id, items, request_id)

    async def feedback_list(self, doc_id):
        return await asyncio.to_thread(self.side.feedback_list, doc_id)

    def feedback_generation(self) -> int:
        return self.side.feedback_generation()

    async def feedback_examples(self, max_per_label):
        return await asyncio.to_thread(self.side.feedback_examples, max_per_label)

    async def feedback_documents(self, limit):
        return await asyncio.to_thread(self.side.feedback_documents, limit)

    async def log_queries(self, rows):
        return await self._side_write(self.side.log_queries, rows)

    async def top_queries(self, limit, since=None):
        return await asyncio.to_thread(self.side.top_queries, limit, since)

    async def sample_vectors(self, limit: int, min_count: int = 1):
        """(document count, up to ``limit`` stored vectors or None below ``min_count``): the pool the
        Topics deployment refines its scores from (topicserve/topics/refine.py)."""
        from topicserve.store.sample import sample_vectors

        return await asyncio.to_thread(sample_vectors, self.store, limit, min_count)
