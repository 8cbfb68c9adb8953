"""Operators' view of the deployed app: Prometheus metrics on Ray's metrics export port, JSON logs.

After a few real requests the `topicserve_*` series appear on the tests' cluster's export port
(``PORTS.metrics``) with the values those requests imply; the Ingress replica's log file holds a
JSON record per request with the request id of the response header as a field.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import BASE, ROOT
from tests.e2e.raycluster import PORTS

pytestmark = pytest.mark.e2e

METRICS_URL = f"http://127.0.0.1:{PORTS.metrics}/metrics"
RUN = uuid.uuid4().hex[:8]  # ids of this run: the store may hold other modules' documents
DOCS = [
    {"id": f"metrics-{RUN}-1", "text": "An oil painting of a stormy harbour, in heavy impasto."},
    {"id": f"metrics-{RUN}-2", "text": "The sculptor cast the bronze figure in three parts."},
    {"id": f"metrics-{RUN}-3", "text": "A watercolour study of the cathedral's west front."},
]


def samples() -> dict[str, list]:
    """name -> [(labels, value)] of every topicserve sample Ray exports now."""
    text = requests.get(METRICS_URL, timeout=10).text
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "topicserve_" in sample.name:
                out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def total(found: dict, name_part: str, **labels: str) -> float:
    return sum(
        value
        for name, rows in found.items()
        if name.endswith(name_part)
        for got, value in rows
        if all(got.get(k) == v for k, v in labels.items())
    )


def wait_for(check, timeout_s: float = 120):
    """Ray's agent exports replica metrics every few seconds: poll until ``check`` holds."""
    deadline, found = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        found = samples()
        if check(found):
            return found
        time.sleep(2)
    return found


@pytest.fixture(scope="module")
def traffic(deployed):
    http = requests.Session()
    ingest = http.post(f"{BASE}/documents", json={"documents": DOCS}, timeout=120)
    assert ingest.status_code == 200, ingest.text
    assert http.post(f"{BASE}/search", json={"query": "a bronze figure", "k": 2}, timeout=60).status_code == 200
    rid = f"metrics-bad-{RUN}"
    bad = http.post(f"{BASE}/search", json={"query": ""}, headers={"X-Request-ID": rid}, timeout=60)
    assert bad.status_code == 422 and bad.headers["x-request-id"] == rid
    labels = [t["label"] for d in ingest.json()["documents"] for t in d["topics"]]
    return {"labels": labels, "bad_request_id": rid}


def test_topicserve_series_appear_with_plausible_values(traffic):
    def complete(found):
        return (
            total(found, "topicserve_documents_ingested_total") >= len(DOCS)
            and total(found, "topicserve_rejected_requests_total", reason="invalid_input") >= 1
            and total(found, "topicserve_embed_batch_texts_count") >= 1
            and total(found, "topicserve_store_documents") >= len(DOCS)
            and total(found, "topicserve_request_latency_seconds_count", route="/search", status_class="4xx") >= 1
        )

    found = wait_for(complete)
    assert complete(found), f"topicserve series on {METRICS_URL}: {sorted(found)}"
    ok_search = total(found, "topicserve_request_latency_seconds_count", route="/search", status_class="2xx")
    assert ok_search >= 1
    # The histogram's sum is seconds: positive, and under the proxy's request timeout per request.
    assert 0 < total(found, "topicserve_request_latency_seconds_sum", route="/documents") < 60 * ok_search + 60
    # Every text of the ingest went through an Embedder batch, and each request waited >= 0 s for it.
    assert total(found, "topicserve_embed_batch_texts_sum") >= len(DOCS)
    assert total(found, "topicserve_embed_queue_wait_seconds_count") >= 1
    assert total(found, "topicserve_embed_queue_wait_seconds_sum") >= 0
    for label in set(traffic["labels"]):
        assert total(found, "topicserve_topic_assignments_total", label=label) >= 1, label
    # Serve tags every series with its deployment.
    deployments = {row[0].get("deployment") for rows in found.values() for row in rows}
    assert {"Ingress", "Embedder", "State"} <= deployments


def ingress_log_records(temp_dir: str) -> list[dict]:
    records = []
    for path in Path(temp_dir).glob("session_*/logs/serve/replica_*Ingress*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
    return records


def test_logs_are_json_with_the_request_id_as_a_field(traffic, deployed):
    local_ray, _ = deployed
    rid = traffic["bad_request_id"]
    deadline, mine = time.monotonic() + 60, []
    while time.monotonic() < deadline and not mine:
        mine = [r for r in ingress_log_records(local_ray.temp_dir) if r.get("request_id") == rid]
        time.sleep(1)
    access = [r for r in mine if r.get("endpoint") == "/search"]
    assert access, f"no JSON access record with request_id {rid} (found {len(mine)} records with it)"
    record = access[0]
    assert (record["method"], record["status_code"], record["error"]) == ("POST", 422, "invalid_input")
    assert record["duration_ms"] >= 0 and record["levelname"] == "INFO"
    assert record["deployment"].endswith("Ingress")  # Serve writes it as <app>_<deployment>


def test_the_grafana_dashboard_queries_series_that_exist(traffic):
    """Every `ray_topicserve_*` series k8s/monitoring/grafana-dashboard.json queries is exported."""
    dashboard = json.loads((ROOT / "k8s" / "monitoring" / "grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bray_topicserve_\w+", target["expr"])
    }
    assert len(queried) >= 8
    found = wait_for(lambda f: queried <= set(f))
    assert queried <= set(found), f"queried but not exported: {sorted(queried - set(found))}"
