"""The metrics hooks of the Ray-free app: every answer counted by route template and status class,
refusals by error code, ingests and their topic labels; and the access-log record's fields."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from topicserve.api import build_app
from topicserve.inprocess import build_gateway
from topicserve.metrics import NO_METRICS, status_class
from topicserve.settings import Settings

KEY = "metrics-unit-key-7781"


class Recorder:
    """A Metrics implementation that keeps what it was told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int, float]] = []
        self.rejections: Counter[str] = Counter()
        self.documents = 0
        self.labels: Counter[str] = Counter()

    def request(self, method, route, status, seconds):
        self.requests.append((method, route, status, seconds))

    def rejected(self, reason):
        self.rejections[reason] += 1

    def ingested(self, count):
        self.documents += count

    def topics_assigned(self, labels):
        self.labels.update(labels)

    def store_size(self, documents):
        raise AssertionError("the api never reports the store size (the State deployment does)")

    def embed_batch(self, texts, queue_waits_s):
        raise AssertionError("the api never reports batches (the Embedder deployment does)")


@pytest.fixture(scope="module")
def recorded(embedder, tmp_path_factory):
    metrics = Recorder()
    gateway = build_gateway(str(tmp_path_factory.mktemp("metrics-store")), embedder=embedder)
    gateway.metrics = metrics
    asyncio.run(gateway.startup())
    settings = Settings(api_key=KEY, max_body_bytes=4096)
    with TestClient(build_app(gateway, settings, metrics=metrics), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {KEY}"
        yield client, metrics


def test_requests_are_counted_by_route_template_and_refusals_by_code(recorded):
    client, metrics = recorded
    assert client.get("/documents/no-such-doc").status_code == 404
    assert client.post("/search", json={"query": "", "k": 3}).status_code == 422
    assert client.post("/search", json={"query": "x" * 5000}).status_code == 413
    assert client.get("/healthz", headers={"Authorization": "Bearer wrong"}).status_code == 200  # a probe
    assert client.get("/trends", headers={"Authorization": "Bearer wrong"}).status_code == 401
    routes = [(m, r, s) for m, r, s, _ in metrics.requests[-5:]]
    assert routes == [
        ("GET", "/documents/{id}", 404),
        ("POST", "/search", 422),
        ("POST", "(no route)", 413),  # refused before routing
        ("GET", "/healthz", 200),
        ("GET", "(no route)", 401),  # refused before routing
    ]
    assert all(seconds >= 0 for *_, seconds in metrics.requests)
    want = {"not_found": 1, "invalid_input": 1, "payload_too_large": 1, "unauthorized": 1}
    assert {k: metrics.rejections[k] for k in want} == want


def test_ingest_counts_documents_and_their_labels(recorded):
    client, metrics = recorded
    before_docs, before_labels = metrics.documents, sum(metrics.labels.values())
    docs = [
        {"id": "m1", "text": "An oil painting of a stormy sea, on canvas."},
        {"id": "m2", "text": "A bronze sculpture of a horse and rider."},
    ]
    resp = client.post("/documents", json={"documents": docs})
    assert resp.status_code == 200
    assigned = [t["label"] for d in resp.json()["documents"] for t in d["topics"]]
    assert metrics.documents - before_docs == 2
    assert sum(metrics.labels.values()) - before_labels == len(assigned) > 0
    assert all(metrics.labels[label] >= 1 for label in assigned)


def test_the_access_log_record_has_structured_fields(recorded, caplog):
    client, _ = recorded
    with caplog.at_level(logging.INFO, logger="topicserve.access"):
        resp = client.post("/search", json={"query": ""}, headers={"X-Request-ID": "fields-1"})
    record = next(r for r in caplog.records if getattr(r, "request_id", None) == "fields-1")
    assert resp.headers["x-request-id"] == "fields-1"
    fields = (record.method, record.endpoint, record.status_code, record.error)
    assert fields == ("POST", "/search", 422, "invalid_input")
    assert record.duration_ms >= 0


def test_a_failing_metrics_backend_never_fails_a_request(embedder, tmp_path_factory):
    class Broken(Recorder):
        def request(self, *args):
            raise RuntimeError("metrics backend down")

    gateway = build_gateway(str(tmp_path_factory.mktemp("broken-metrics")), embedder=embedder)
    with TestClient(build_app(gateway, Settings(), metrics=Broken()), raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200


def test_defaults():
    assert [status_class(s) for s in (0, 200, 204, 404, 503)] == ["0xx", "2xx", "2xx", "4xx", "5xx"]
    NO_METRICS.request("GET", "/", 200, 0.1)  # no-ops
    NO_METRICS.topics_assigned(iter(["a"]))
