"""Feedback, evaluate-on-feedback, the query log and the search cache through the in-process app.

The real model, a real LanceDB in a tmp dir, the real FastAPI app (topicserve/inprocess.py): no Ray.
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient

from topicserve.api import build_app
from topicserve.inprocess import build_gateway
from topicserve.topics import LabelVectors, TopicsConfig

# The default (art) taxonomy tags this staff pay dispute "patronage"; a person says it is "museum
# operations". After that feedback, the same text and a paraphrase of it are tagged "museum operations".
PAY = "Staff voted to accept the new pay offer, ending the dispute that had closed the galleries on two weekends."
BALLOT = "The staff ballot accepted the pay offer and the dispute that closed the museum is over."
DOCS = [
    {"id": "pay", "text": PAY},
    {"id": "bust", "text": "A marble bust of the cardinal was carved by a young sculptor in Rome."},
]


@pytest.fixture(scope="module")
def label_vectors(embedder):
    """One label-embedding cache for every gateway of this module (keyed by text: safe to share)."""

    async def embed(texts):
        return await asyncio.to_thread(embedder.embed, texts)

    return LabelVectors(embed)


def make_client(path, embedder, label_vectors, topics: TopicsConfig | None = None) -> TestClient:
    gateway = build_gateway(str(path / "store"), embedder=embedder, topics=topics, label_vectors=label_vectors)
    asyncio.run(gateway.startup())
    client = TestClient(build_app(gateway), raise_server_exceptions=False)
    client.gateway = gateway  # type: ignore[attr-defined]  (the tests look at its cache and query log)
    assert client.post("/documents", json={"documents": DOCS}).status_code == 200
    return client


@pytest.fixture(scope="module")
def client(tmp_path_factory, embedder, label_vectors):
    """Shared by the tests that write no feedback on "bust" and count cache hits as deltas."""
    with make_client(tmp_path_factory.mktemp("feedback-api"), embedder, label_vectors) as c:
        yield c


def tags(client, doc_id: str, text: str) -> list[str]:
    body = client.post("/documents", json={"documents": [{"id": doc_id, "text": text}]}).json()
    return [t["label"] for t in body["documents"][0]["topics"]]


def feedback_rows(client, doc_id: str = "pay") -> int:
    return len(client.get(f"/documents/{doc_id}/feedback").json()["feedback"])


def test_feedback_is_stored_and_listed_with_the_configured_label(client):
    one = client.post("/documents/pay/feedback", json={"topic": "Museum Operations", "verdict": "added"})
    assert one.status_code == 200, one.text
    assert one.json()["stored"] == 1 and one.json()["feedback"][0]["topic"] == "museum operations"
    many = {"items": [{"topic": "patronage", "verdict": "rejected", "note": "a pay dispute, not a patron"}]}
    assert client.post("/documents/pay/feedback", json=many, headers={"X-Request-ID": "rid-42"}).status_code == 200
    listed = client.get("/documents/pay/feedback").json()
    assert [(f["topic"], f["verdict"]) for f in listed["feedback"]] == [
        ("museum operations", "added"),
        ("patronage", "rejected"),
    ]
    assert listed["feedback"][1]["request_id"] == "rid-42" and listed["feedback"][1]["note"].startswith("a pay")
    assert listed["current"] == {"museum operations": "added", "patronage": "rejected"}
    assert client.get("/documents/bust/feedback").json()["feedback"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"topic": "astrology", "verdict": "confirmed"}, "topic"),
        (
            {"items": [{"topic": "painting", "verdict": "confirmed"}, {"topic": "astrology", "verdict": "added"}]},
            "items.1.topic",
        ),
        ({"topic": "painting", "verdict": "maybe"}, "verdict"),
        ({"topic": "painting"}, "verdict"),
        ({"verdict": "added"}, "topic"),
        ({"topic": "painting", "verdict": "added", "score": 1}, "score"),
        ({"topic": "painting", "verdict": "added", "items": [{"topic": "sculpture", "verdict": "added"}]}, "items"),
        ({"items": [{"topic": "painting", "verdict": "added"}, {"topic": "PAINTING", "verdict": "rejected"}]}, "items"),
        ({"items": []}, "items"),
        ({"topic": "painting", "verdict": "added", "note": "x" * 2001}, "note"),
    ],
)
def test_bad_feedback_names_the_field_and_writes_nothing(client, body, field):
    resp = client.post("/documents/bust/feedback", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field
    assert feedback_rows(client, "bust") == 0  # the valid first item of a bad list was not stored either


def test_feedback_on_an_unknown_document_is_a_json_404(client):
    for resp in (
        client.post("/documents/nope/feedback", json={"topic": "painting", "verdict": "confirmed"}),
        client.get("/documents/nope/feedback"),
    ):
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
        assert resp.json()["error"]["field"] == "id"


def test_feedback_fixes_a_wrong_tag(tmp_path, embedder, label_vectors):
    with make_client(tmp_path, embedder, label_vectors) as client:
        assert tags(client, "pay-2", PAY)[0] == "patronage"
        assert tags(client, "ballot", BALLOT)[0] != "museum operations"
        verdicts = [{"topic": "museum operations", "verdict": "added"}, {"topic": "patronage", "verdict": "rejected"}]
        assert client.post("/documents/pay/feedback", json={"items": verdicts}).status_code == 200
        assert tags(client, "pay-3", PAY)[0] == "museum operations"
        assert tags(client, "ballot", BALLOT)[0] == "museum operations"
        topics = client.post("/topics", json={"texts": [PAY]}).json()["results"][0]["topics"]
        assert topics[0]["label"] == "museum operations"


def test_use_feedback_off_keeps_the_tags(tmp_path, embedder, label_vectors):
    with make_client(tmp_path, embedder, label_vectors, TopicsConfig(use_feedback=False)) as client:
        client.post("/documents/pay/feedback", json={"topic": "museum operations", "verdict": "added"})
        assert tags(client, "pay-2", PAY)[0] == "patronage"


def test_evaluate_on_the_feedback_collected_so_far(tmp_path, embedder, label_vectors):
    with make_client(tmp_path, embedder, label_vectors) as client:
        empty = client.post("/evaluate", json={"source": "feedback"})
        assert empty.status_code == 422 and empty.json()["error"]["field"] == "source"
        both = client.post("/evaluate", json={"source": "feedback", "items": [{"text": "x", "label": "painting"}]})
        assert both.status_code == 422 and both.json()["error"]["field"] == "items"
        before = client.post("/documents/pay/feedback", json={"topic": "patronage", "verdict": "rejected"})
        assert before.status_code == 200
        client.post("/documents/bust/feedback", json={"topic": "sculpture", "verdict": "confirmed"})
        first = client.post("/evaluate", json={"source": "feedback"}).json()
        # Only the rejection on "pay" so far: one positive item (bust), and patronage is still given to pay.
        assert first["feedback"] == {
            "documents": 2,
            "positive_items": 1,
            "rejected": 1,
            "rejected_still_given": 1,
            "rejected_rate": 1.0,
        }
        assert first["metrics"]["items"] == 1 and first["metrics"]["accuracy"] == 1.0
        client.post("/documents/pay/feedback", json={"topic": "museum operations", "verdict": "added"})
        second = client.post("/evaluate", json={"source": "feedback"}).json()
        assert second["metrics"]["items"] == 2 and second["metrics"]["accuracy"] == 1.0
        assert second["feedback"]["rejected_still_given"] == 0  # the examples moved the prototypes
        assert {i["text"] for i in second["items"]} == {PAY, DOCS[1]["text"]}


# ---- query log ---------------------------------------------------------------------------------
def test_query_log_is_off_by_default(client):
    assert client.post("/search", json={"query": "marble bust"}).status_code == 200
    top = client.get("/queries/top").json()
    assert top == {"queries": [], "enabled": False}


def test_query_log_stores_rows_and_answers_the_most_frequent(tmp_path, embedder, label_vectors, monkeypatch):
    monkeypatch.setenv("TOPICSERVE_QUERY_LOG", "true")
    monkeypatch.setenv("TOPICSERVE_SEARCH_CACHE_SIZE", "0")
    with make_client(tmp_path, embedder, label_vectors) as client:
        for query in ("Marble bust", "marble  bust ", "pay dispute"):
            answer = client.post("/search", json={"query": query, "k": 1}, headers={"X-Request-ID": f"q-{len(query)}"})
            assert answer.status_code == 200
        top = client.get("/queries/top", params={"limit": 5}).json()
        assert top["enabled"] is True
        assert [(q["query"], q["count"]) for q in top["queries"]] == [("marble bust", 2), ("pay dispute", 1)]
        assert client.get("/queries/top", params={"limit": 1}).json()["queries"][0]["query"] == "marble bust"
        later = client.get("/queries/top", params={"since": "2200-01-01T00:00:00Z"}).json()
        assert later["queries"] == []
        state = client.gateway.state._target
        rows = state.queries.table.scan().to_pylist()
        assert {r["request_id"] for r in rows} == {"q-11", "q-13"}
        assert all(r["result_ids"] for r in rows) and all(r["latency_ms"] > 0 for r in rows)
        assert {tuple(r["result_ids"]) for r in rows if r["query"] == "pay dispute"} == {("pay",)}


def test_query_log_retention_keeps_the_newest_rows(tmp_path, embedder, label_vectors, monkeypatch):
    for key, value in {"QUERY_LOG": "true", "QUERY_LOG_MAX_ROWS": "2", "QUERY_LOG_PRUNE_S": "0"}.items():
        monkeypatch.setenv(f"TOPICSERVE_{key}", value)
    with make_client(tmp_path, embedder, label_vectors) as client:
        for query in ("one", "two", "three", "four"):
            client.post("/search", json={"query": query})
            client.get("/queries/top")  # flushes this replica's pending rows (and prunes)
        assert {q["query"] for q in client.get("/queries/top").json()["queries"]} == {"three", "four"}


def test_a_failing_query_log_never_fails_a_search(tmp_path, embedder, label_vectors, monkeypatch):
    monkeypatch.setenv("TOPICSERVE_QUERY_LOG", "true")
    with make_client(tmp_path, embedder, label_vectors) as client:
        log = client.gateway.querylog

        async def broken(rows):
            raise OSError("the query log's disk is gone")

        log.sink, log.batch = broken, 1
        for _ in range(3):
            assert client.post("/search", json={"query": "marble bust"}).status_code == 200
        client.get("/queries/top")
        assert log.dropped == 3 and log.pending == []


# ---- search cache ------------------------------------------------------------------------------
def test_repeated_searches_come_from_the_cache_and_a_write_invalidates_it(client):
    cache = client.gateway.cache
    query = {"query": "a bronze horse statue"}
    first = client.post("/search", json=query).json()
    hits = cache.hits
    again = client.post("/search", json={**query, "k": 10, "mode": "vector"}).json()  # the same normalised body
    assert again == first and cache.hits == hits + 1
    assert first["results"][0]["id"] == "bust"
    horse = {"id": "horse", "text": "The bronze statue of a horse was cast in 1540."}
    assert client.post("/documents", json={"documents": [horse]}).status_code == 200
    after = client.post("/search", json=query).json()
    assert after["results"][0]["id"] == "horse" and cache.hits == hits + 1  # a miss: the write moved the generation
    assert client.delete("/documents/horse").status_code == 200
    assert "horse" not in [r["id"] for r in client.post("/search", json=query).json()["results"]]


class Recorder:
    """Records the calls a gateway makes to one of its clients (the real in-process client underneath)."""

    def __init__(self, target, calls: list) -> None:
        self.target, self.calls = target, calls

    def __getattr__(self, name: str):
        method = getattr(self.target, name)

        async def call(*args, **kwargs):
            self.calls.append((name, args))
            return await method(*args, **kwargs)

        return call


def test_a_search_is_one_state_round_trip_and_a_kept_answer_skips_the_embedding(client):
    gateway, calls = client.gateway, []
    state, embedder = gateway.state, gateway.embedder
    gateway.state, gateway.embedder = Recorder(state, calls), Recorder(embedder, calls)
    try:
        query = {"query": "a carved marble portrait", "k": 3}
        first = client.post("/search", json=query).json()
        assert [name for name, _ in calls] == ["embed", "search_view"]  # one State call for key + hits
        assert calls[1][1][0] is not None  # with the query's vector
        calls.clear()
        assert client.post("/search", json=query).json() == first
        assert [name for name, _ in calls] == ["search_view"] and calls[0][1][0] is None  # kept: no vector
        gateway.state = state  # a write moves the generation: the kept answer is stale
        assert (
            client.post("/documents", json={"documents": [{"id": "bust2", "text": "A marble bust."}]}).status_code
            == 200
        )
        gateway.state = Recorder(state, calls)
        calls.clear()
        after = client.post("/search", json=query).json()
        assert [name for name, _ in calls] == ["search_view", "embed", "search_view"]  # asked, stale, searched
        assert "bust2" in [r["id"] for r in after["results"]]
    finally:
        gateway.state, gateway.embedder = state, embedder
        client.delete("/documents/bust2")
