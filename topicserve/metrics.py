"""What the Ray-free code reports to metrics, behind a tiny interface with a no-op default.

The api (access-log middleware) and the gateway call these hooks; `deployments/metrics.py`
implements them with `ray.serve.metrics` (Prometheus on Ray's metrics export port). Unit tests
and `LocalClient` runs get `NO_METRICS`, or a recording implementation of their own.

Label values are bounded sets: routes are the app's route templates (``/documents/{id}``, not
the id), status classes ``2xx``..``5xx``, reasons the error codes of topicserve/errors.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

# Request latency buckets (seconds): health checks at ~1 ms up to ingest batches of many seconds.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Embedder batch sizes (texts per model batch) and queue wait (seconds before a batch starts).
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
QUEUE_WAIT_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def status_class(status: int) -> str:
    """``2xx`` for 200..299 etc.; ``0xx`` when no response was sent (a disconnect)."""
    return f"{status // 100}xx"


class Metrics(Protocol):
    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered (any status), with its latency."""

    def rejected(self, reason: str) -> None:
        """One request refused with an error code (``overloaded``, ``timeout``, ``unauthorized``...)."""

    def ingested(self, count: int) -> None:
        """``count`` documents committed to the store."""

    def topics_assigned(self, labels: Iterable[str]) -> None:
        """One assignment per label in ``labels`` (repeats count) for ingested documents."""

    def store_size(self, documents: int) -> None:
        """The number of documents in the store, after a write."""

    def embed_batch(self, texts: int, queue_waits_s: Iterable[float]) -> None:
        """One model batch of ``texts`` texts; how long each request in it waited for the batch."""


class NoMetrics:
    """The default: every hook does nothing."""

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        pass

    def rejected(self, reason: str) -> None:
        pass

    def ingested(self, count: int) -> None:
        pass

    def topics_assigned(self, labels: Iterable[str]) -> None:
        pass

    def store_size(self, documents: int) -> None:
        pass

    def embed_batch(self, texts: int, queue_waits_s: Iterable[float]) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()
