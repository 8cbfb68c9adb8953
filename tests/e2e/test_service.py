"""The deployed app over HTTP: every endpoint, the openai client, bad input, nothing half-written."""

from __future__ import annotations

import base64
import math
import time

import numpy as np
import pytest
from openai import OpenAI

from tests.e2e.conftest import BASE

pytestmark = pytest.mark.e2e

ART = [
    {
        "id": "e2e-fresco",
        "text": "Conservators cleaned the chapel fresco and consolidated the flaking plaster.",
        "timestamp": "2026-03-02T10:00:00Z",
        "metadata": {"room": "chapel"},
    },
    {
        "id": "e2e-bust",
        "text": "A marble bust of the cardinal was carved by the sculptor's workshop in Rome.",
        "timestamp": "2026-01-15T09:00:00+01:00",
    },
    {"id": "e2e-dome", "text": "The architect designed the dome and facade of the new palace church."},
]


def post(http, path, body, status=200):
    resp = http.post(f"{BASE}{path}", json=body, timeout=120)
    assert resp.status_code == status, resp.text
    return resp.json()


def test_health_readiness_and_docs(http):
    assert http.get(f"{BASE}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{BASE}/readyz")
    assert ready.status_code == 200
    assert ready.json()["embedder"]["dim"] == 384
    assert http.get(f"{BASE}/docs").status_code == 200
    paths = http.get(f"{BASE}/openapi.json").json()["paths"]
    assert {"/v1/embeddings", "/documents", "/search", "/topics", "/trends", "/evaluate"} <= set(paths)


def test_readyz_and_errors_show_no_storage_location(http, deployed):
    storage = str(deployed[1])
    ready = http.get(f"{BASE}/readyz")
    assert storage not in ready.text and "storage_uri" not in ready.text
    assert ready.headers["x-request-id"]
    error = http.get(f"{BASE}/documents/no-such-doc").json()["error"]
    assert error["request_id"] and storage not in error["message"]


def test_openai_client_against_embeddings(deployed):
    client = OpenAI(base_url=f"{BASE}/v1", api_key="not-needed")
    # The client asks for base64 by default and decodes it itself.
    got = client.embeddings.create(model="sentence-transformers/all-MiniLM-L6-v2", input=["a fresco", "a bronze"])
    assert [d.index for d in got.data] == [0, 1]
    vec = np.array(got.data[0].embedding)
    assert vec.shape == (384,) and math.isclose(float(np.linalg.norm(vec)), 1.0, rel_tol=1e-3)
    floats = client.embeddings.create(model=got.model, input="a fresco", encoding_format="float")
    assert np.allclose(floats.data[0].embedding, vec, atol=1e-5)
    assert got.usage.total_tokens > 0


def ingress_copy(http) -> dict:
    """/readyz's view of the Ingress's model copy (topicserve/embedroute.py), once it has loaded."""
    for _ in range(120):  # it loads in the background after readiness: seconds, usually already done
        copy = http.get(f"{BASE}/readyz").json()["embedder"]["ingress_copy"]
        if copy["state"] not in ("loading", "not loaded"):
            return copy
        time.sleep(0.5)
    return copy


def test_small_requests_are_embedded_in_the_ingress_with_the_embedders_vectors(http):
    before = ingress_copy(http)
    assert before["state"] == "serving" and before["max_texts"] >= 1 and before["memory_mb"] > 0
    texts = ["The bronze doors of the baptistery", *(f"filler text number {i}" for i in range(31))]
    one = post(http, "/v1/embeddings", {"input": texts[0], "encoding_format": "base64"})
    assert ingress_copy(http)["served"] > before["served"]  # that one came from the copy
    many = post(http, "/v1/embeddings", {"input": texts})  # 32 texts: the Embedder deployment
    mine = np.frombuffer(base64.b64decode(one["data"][0]["embedding"]), dtype="<f4")
    assert float(mine @ np.array(many["data"][0]["embedding"])) > 0.9999  # one space, the same vectors
    assert post(http, "/v1/embeddings", {"input": "x", "dimensions": 12}, 422)["error"]["field"] == "dimensions"


def test_embeddings_rejects_other_model(http):
    body = post(http, "/v1/embeddings", {"input": "x", "model": "text-embedding-3-large"}, 422)
    assert body["error"]["field"] == "model"
    assert "all-MiniLM-L6-v2" in body["error"]["message"]


def test_ingest_get_search_and_replace(http):
    body = post(http, "/documents", {"documents": ART})
    assert body["ingested"] == 3
    by_id = {d["id"]: d for d in body["documents"]}
    assert by_id["e2e-fresco"]["topics"][0]["label"] == "conservation"

    doc = http.get(f"{BASE}/documents/e2e-bust").json()
    assert doc["timestamp"].startswith("2026-01-15T08:00:00")  # stored as UTC
    assert doc["topics"]

    # Other modules (backfill, CLI) share this store: among this module's documents the fresco wins.
    hits = post(http, "/search", {"query": "repairing a wall painting in a church", "k": 100})["results"]
    assert next(h["id"] for h in hits if h["id"].startswith("e2e-")) == "e2e-fresco"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all(-1.0 <= h["score"] <= 1.0 for h in hits)

    only_old = post(http, "/search", {"query": "church", "k": 10, "until": "2026-02-01T00:00:00Z"})["results"]
    assert {h["id"] for h in only_old} & {d["id"] for d in ART} == {"e2e-bust"}
    sculpt = post(http, "/search", {"query": "church", "k": 10, "topic": "sculpture"})["results"]
    assert all(any(t["label"] == "sculpture" for t in h["topics"]) for h in sculpt)

    # Re-posting an id replaces the document (idempotent on id).
    before = http.get(f"{BASE}/readyz").json()["state"]["documents"]
    new = {"id": "e2e-dome", "text": "An engraving of the dome printed from a copper plate."}
    post(http, "/documents", {"documents": [new]})
    assert http.get(f"{BASE}/documents/e2e-dome").json()["text"] == new["text"]
    assert http.get(f"{BASE}/readyz").json()["state"]["documents"] == before


def test_unknown_document_is_404(http):
    resp = http.get(f"{BASE}/documents/no-such-doc")
    assert resp.status_code == 404
    assert resp.json()["error"]["field"] == "id"


def test_topics_in_input_order_with_custom_labels(http):
    texts = ["A bronze statue of a horse.", "Oil on canvas portrait of a duchess."]
    default = post(http, "/topics", {"texts": texts})
    assert [r["topics"][0]["label"] for r in default["results"]] == ["sculpture", "painting"]
    assert default["rule"].startswith("confidence(")  # the deployed default rule says which it is
    assert all(0.5 < r["topics"][0]["confidence"] <= 1.0 for r in default["results"])
    custom = post(
        http,
        "/topics",
        {
            "texts": texts,
            "labels": [
                {"label": "animals", "description": "a horse, a dog, a lion"},
                {"label": "noblewomen", "description": "a duchess, a queen, a lady of the court"},
            ],
            "top_k": 1,
        },
    )
    assert custom["taxonomy"] == "request labels"
    assert [r["topics"][0]["label"] for r in custom["results"]] == ["animals", "noblewomen"]


def test_trends_finds_a_burst(http):
    burst = [
        {
            "id": f"e2e-burst-{i}",
            "text": f"Laser cleaning of the marble statue number {i}.",
            "timestamp": f"2030-01-2{i}T12:00:00Z",
        }
        for i in range(5)
    ]
    post(http, "/documents", {"documents": burst})
    body = http.get(
        f"{BASE}/trends", params={"window": "7d", "baseline": "30d", "bin": "1d", "now": "2030-01-27T00:00:00Z"}
    ).json()
    assert body["trending"], body
    top = body["trending"][0]
    assert top["recent_count"] == 5 and top["baseline_count"] == 0
    assert len(top["series"]) == 37 and sum(p["count"] for p in top["series"]) == 5
    assert http.get(f"{BASE}/trends", params={"window": "7x"}).json()["error"]["field"] == "window"


def test_evaluate(http):
    body = post(
        http,
        "/evaluate",
        {"items": [{"text": "A marble bust carved for the cardinal.", "human_topics": ["sculpture"]}]},
    )
    item = body["items"][0]
    assert item["model_topics"] and 0.0 < item["best_match_cosine"] <= 1.0
    assert body["mean_best_match_cosine"] == pytest.approx(item["best_match_cosine"])


BAD = [
    ("/documents", {"documents": [{"id": "b1", "text": ""}]}, "documents.0.text"),
    ("/documents", {"documents": [{"id": "b1", "text": "   \n"}]}, "documents.0.text"),
    ("/documents", {"documents": [{"id": "b1", "text": 42}]}, "documents.0.text"),
    ("/documents", {"documents": [{"id": "b1", "text": "ok", "timestamp": "last tuesday"}]}, "documents.0.timestamp"),
    ("/documents", {"documents": [{"id": "b1", "text": "ok", "colour": "red"}]}, "documents.0.colour"),
    ("/documents", {"documents": [{"id": "b1", "text": "x" * 100_001}]}, "documents.0.text"),
    ("/documents", {"documents": [{"id": f"b{i}", "text": "ok"} for i in range(257)]}, "documents"),
    ("/documents", {"documents": []}, "documents"),
    ("/search", {"query": "art", "k": 0}, "k"),
    ("/search", {"query": "art", "k": 101}, "k"),
    ("/search", {"query": ["art"]}, "query"),
    ("/topics", {"texts": ["ok", ""]}, "texts.1"),
    ("/v1/embeddings", {"input": []}, "input"),
    ("/evaluate", {"items": [{"text": "ok", "human_topics": []}]}, "items.0"),  # needs human_topics or label
]


@pytest.mark.parametrize(("path", "body", "field"), BAD, ids=[f"{p}:{f}" for p, _, f in BAD])
def test_bad_input_is_4xx_json_naming_the_field(http, path, body, field):
    resp = http.post(f"{BASE}{path}", json=body, timeout=60)
    assert 400 <= resp.status_code < 500, resp.text
    error = resp.json()["error"]
    assert error["field"] == field
    assert error["message"]


def test_oversized_body_is_413(http):
    resp = http.post(f"{BASE}/documents", data=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["error"]["field"] == "body"


def test_malformed_json_is_422(http):
    resp = http.post(f"{BASE}/search", data=b'{"query": ', headers={"content-type": "application/json"})
    assert resp.status_code == 422
    assert "error" in resp.json()


def test_batch_with_one_bad_document_stores_nothing(http):
    docs = [
        {"id": "e2e-good", "text": "A drawing in red chalk."},
        {"id": "e2e-bad", "text": "ok", "timestamp": "13/13/2026"},
    ]
    resp = http.post(f"{BASE}/documents", json={"documents": docs})
    assert resp.status_code == 422
    assert http.get(f"{BASE}/documents/e2e-good").status_code == 404


PAY = "Staff voted to accept the new pay offer, ending the dispute that had closed the galleries on two weekends."


def test_feedback_round_trip_moves_the_tags_and_the_cache_never_serves_stale(http):
    """Feedback through State (the writer), read back by Topics over its handle; the search cache."""
    first = post(http, "/documents", {"documents": [{"id": "e2e-pay", "text": PAY}]})["documents"][0]
    assert first["topics"][0]["label"] == "patronage"
    verdicts = [{"topic": "museum operations", "verdict": "added"}, {"topic": "patronage", "verdict": "rejected"}]
    resp = http.post(
        f"{BASE}/documents/e2e-pay/feedback", json={"items": verdicts}, headers={"X-Request-ID": "e2e-fb-1"}
    )
    assert resp.status_code == 200 and resp.json()["stored"] == 2, resp.text
    listed = http.get(f"{BASE}/documents/e2e-pay/feedback").json()
    assert listed["current"] == {"museum operations": "added", "patronage": "rejected"}
    assert {f["request_id"] for f in listed["feedback"]} == {"e2e-fb-1"}
    try:
        again = post(http, "/documents", {"documents": [{"id": "e2e-pay-2", "text": PAY}]})["documents"][0]
        assert again["topics"][0]["label"] == "museum operations"
        report = post(http, "/evaluate", {"source": "feedback"})
        assert report["feedback"]["documents"] >= 1 and report["feedback"]["rejected"] >= 1
        query = {"query": "a pay deal for the museum guards", "k": 3}
        before = post(http, "/search", query)
        assert post(http, "/search", query) == before  # served again (from the cache)
        closer = {"id": "e2e-guards", "text": "The museum guards accepted a pay deal."}
        post(http, "/documents", {"documents": [closer]})
        assert post(http, "/search", query)["results"][0]["id"] == "e2e-guards"  # never the stale answer
    finally:  # later modules share this store: without the documents, their feedback is not used
        for doc_id in ("e2e-pay", "e2e-pay-2", "e2e-guards"):
            http.delete(f"{BASE}/documents/{doc_id}", timeout=60)
