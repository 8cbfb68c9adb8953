"""The store's HTTP routes in-process (real model, real LanceDB): delete, list, search modes, empty
store, the 503 of a failed write, and `python -m topicserve store migrate`."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from tests.support.app import serve
from topicserve.cli import main
from topicserve.store import DocumentStore

DOCS = [
    {
        "id": "a",
        "text": "Restorers removed the yellow varnish from the altarpiece.",
        "timestamp": "2026-01-01T00:00:00Z",
    },
    {"id": "b", "text": "The architect drew the plans for the palace facade.", "timestamp": "2026-01-02T00:00:00Z"},
    {"id": "c", "text": "Catalogue entry KX-5521-B: a bronze bust of a senator.", "timestamp": "2026-01-03T00:00:00Z"},
]


@pytest.fixture
def client(embedder, tmp_path):
    with serve(tmp_path, embedder) as (_, c):
        yield c


def test_empty_store_search_and_trends_answer_200_with_nothing(client):
    for mode in ("vector", "keyword", "hybrid"):
        resp = client.post("/search", json={"query": "anything", "mode": mode})
        assert resp.status_code == 200 and resp.json()["results"] == []
    resp = client.get("/trends")
    assert resp.status_code == 200 and resp.json()["topics"] == [] and resp.json()["trending"] == []
    assert client.get("/documents").json() == {"documents": [], "next_cursor": None}


def test_delete_by_id_by_ids_and_by_filter_are_durable(client, embedder, tmp_path):
    assert client.post("/documents", json={"documents": DOCS}).status_code == 200
    assert client.delete("/documents/a").json() == {"deleted": 1}
    resp = client.delete("/documents/a")
    assert resp.status_code == 404 and resp.json()["error"]["field"] == "id"
    assert client.post("/documents/delete", json={"ids": ["b", "zz"]}).json() == {"deleted": 1}
    assert client.post("/documents/delete", json={"since": "2026-01-03T00:00:00Z"}).json() == {"deleted": 1}
    with serve(tmp_path, embedder) as (_, again):  # a restart
        assert again.get("/documents").json()["documents"] == []
        assert again.get("/documents/b").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body"), ({"ids": []}, "ids"), ({"ids": ["a"], "topic": "x"}, "body"), ({"topic": ""}, "topic")],
)
def test_delete_needs_ids_or_a_non_empty_filter(client, body, field):
    resp = client.post("/documents/delete", json=body)
    assert resp.status_code == 422 and resp.json()["error"]["field"] == field


def test_list_pages_with_a_cursor_and_filters(client):
    client.post("/documents", json={"documents": DOCS})
    first = client.get("/documents", params={"limit": 2}).json()
    assert [d["id"] for d in first["documents"]] == ["a", "b"] and first["next_cursor"]
    rest = client.get("/documents", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [d["id"] for d in rest["documents"]] == ["c"] and rest["next_cursor"] is None
    since = client.get("/documents", params={"since": "2026-01-02T00:00:00Z"}).json()
    assert [d["id"] for d in since["documents"]] == ["b", "c"]
    assert client.get("/documents", params={"cursor": "!!"}).json()["error"]["field"] == "cursor"
    assert client.get("/documents", params={"limit": 0}).status_code == 422


def test_search_modes(client):
    client.post("/documents", json={"documents": DOCS})
    keyword = client.post("/search", json={"query": "KX-5521-B", "mode": "keyword", "k": 1}).json()["results"]
    assert keyword[0]["id"] == "c"
    hybrid = client.post("/search", json={"query": "palace plans", "mode": "hybrid", "k": 3}).json()["results"]
    assert hybrid[0]["id"] == "b"
    assert client.post("/search", json={"query": "x", "mode": "fuzzy"}).json()["error"]["field"] == "mode"


def test_a_failed_write_is_a_503_and_stores_nothing(client, tmp_path):
    client.post("/documents", json={"documents": DOCS[:1]})
    out = subprocess.run(["mount", "--bind", str(tmp_path), str(tmp_path)], capture_output=True)
    if out.returncode != 0:
        pytest.skip("mount not permitted here")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(tmp_path)], check=True)
        resp = client.post("/documents", json={"documents": DOCS[1:]})
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "store_unavailable"
        assert resp.headers["Retry-After"] == "1" and str(tmp_path) not in resp.text
    finally:
        subprocess.run(["umount", str(tmp_path)], check=False)
    assert client.get("/documents/b").status_code == 404
    assert client.post("/documents", json={"documents": DOCS[1:]}).status_code == 200


def test_migrate_copies_an_old_store_and_the_service_opens_it(embedder, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    vectors = embedder.embed([d["text"] for d in DOCS])
    space = {"model": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384, "normalized": True}
    lines = [
        json.dumps({**d, "metadata": {}, "topics": [], "vector": base64.b64encode(v.astype("<f4").tobytes()).decode()})
        for d, v in zip(DOCS, vectors, strict=True)
    ]
    (old / "seg-000001.jsonl").write_text("\n".join(lines) + "\n")
    (old / "manifest.json").write_text(json.dumps({"format": 1, "space": space, "segments": ["seg-000001.jsonl"]}))
    with pytest.raises(Exception, match="store migrate"):
        DocumentStore(str(old))
    assert main(["store", "migrate", "--from", str(old), "--to", str(tmp_path / "new")]) == 0
    assert "migrated 3 documents" in capsys.readouterr().out
    with serve(tmp_path / "new", embedder) as (_, client):
        hits = client.post("/search", json={"query": "building design", "k": 1}).json()["results"]
        assert hits[0]["id"] == "b" and client.get("/readyz").json()["state"]["documents"] == 3
