"""topicserve's Prometheus metrics through `ray.serve.metrics` (Ray's metrics export port).

Each replica builds one ``ServeMetrics`` (the metric objects must be created inside the replica);
Serve adds the ``deployment``, ``replica`` and ``application`` tags itself. Ray exports them with
a ``ray_`` prefix: ``ray_topicserve_requests_total`` etc. (docs/operations.md lists them).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from ray.serve.metrics import Counter, Gauge, Histogram

from topicserve.metrics import BATCH_SIZE_BUCKETS, LATENCY_BUCKETS_S, QUEUE_WAIT_BUCKETS_S, status_class


class ServeMetrics:
    def __init__(self) -> None:
        self._requests = Counter(
            "topicserve_requests",
            "HTTP requests answered",
            tag_keys=("method", "route", "status_class"),  # type: ignore[arg-type]  # Ray types it tuple[str]
        )
        self._latency = Histogram(
            "topicserve_request_latency_seconds",
            "HTTP request latency at the ingress, by route and status class",
            boundaries=list(LATENCY_BUCKETS_S),
            tag_keys=("method", "route", "status_class"),  # type: ignore[arg-type]  # Ray types it tuple[str]
        )
        self._rejected = Counter("topicserve_rejected_requests", "requests refused, by error code", ("reason",))
        self._ingested = Counter("topicserve_documents_ingested", "documents committed to the store")
        self._topics = Counter("topicserve_topic_assignments", "topic assignments of ingested documents", ("label",))
        self._store = Gauge("topicserve_store_documents", "documents in the store (after the last write)")
        self._batch = Histogram(
            "topicserve_embed_batch_texts", "texts per Embedder model batch", boundaries=list(BATCH_SIZE_BUCKETS)
        )
        self._wait = Histogram(
            "topicserve_embed_queue_wait_seconds",
            "time a request waited in the Embedder's batch queue before its batch started",
            boundaries=list(QUEUE_WAIT_BUCKETS_S),
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        tags = {"method": method, "route": route, "status_class": status_class(status)}
        self._requests.inc(1, tags=tags)
        self._latency.observe(seconds, tags=tags)

    def rejected(self, reason: str) -> None:
        self._rejected.inc(1, tags={"reason": reason})

    def ingested(self, count: int) -> None:
        if count:
            self._ingested.inc(count)

    def topics_assigned(self, labels: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        for label, n in counts.items():
            self._topics.inc(n, tags={"label": label})

    def store_size(self, documents: int) -> None:
        self._store.set(documents)

    def embed_batch(self, texts: int, queue_waits_s: Iterable[float]) -> None:
        self._batch.observe(texts)
        for wait in queue_waits_s:
            self._wait.observe(max(0.0, wait))


@cache
def replica_metrics() -> ServeMetrics:
    """One set per replica process (Ray refuses two metrics of one name with different tag keys)."""
    return ServeMetrics()
