"""State deployment: the single writer of documents, vectors and topics.

Exactly one replica, so ingress replicas never diverge. Its methods are `async` on purpose: they
run one at a time on the replica's event loop, which serialises writes without a lock (the store
calls do not await, so no other call interleaves).
"""

from __future__ import annotations

from ray import serve

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
        settings = get_settings()
        self.store = DocumentStore(settings.storage_uri, compact_every=settings.compact_every)

    async def bind(self, space):
        return self.store.bind(space)

    async def upsert(self, docs, vectors, space):
        return self.store.upsert(docs, vectors, space)

    async def get(self, doc_id):
        return self.store.get(doc_id)

    async def search(self, vector, space, k, **filters):
        return self.store.search(vector, space, k, **filters)

    async def trends(self, now, window, baseline, bin, **options):
        return self.store.trends(now, window, baseline, bin, **options)

    async def stats(self):
        return self.store.stats()
