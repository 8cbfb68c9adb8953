"""Topic discovery: unmatched documents clustered, described by c-TF-IDF, shown and promoted (real model)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.app import post_docs
from tests.support.models import embedder
from topicserve.discovery import DiscoveryParams, ctfidf_keywords, discover
from topicserve.settings import default_taxonomy_path
from topicserve.topics import TopicsConfig

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
BEES = [
    "The beekeeper checked the hives and found the bees healthy after the winter.",
    "Honey production fell this year because the bees had a wet spring.",
    "A swarm of bees settled in an apple tree and the beekeeper caught it in a box.",
    "Beekeepers are worried about mites that weaken the bees in their hives.",
    "The honey harvest was good: each hive gave about twenty kilos.",
]
FOOTBALL = [
    "The striker scored twice as the home team won the league match.",
    "The goalkeeper saved a penalty in the last minute of the cup final.",
    "The football club sacked its manager after five straight defeats.",
    "Fans celebrated in the stadium as the team won the championship.",
]


def art_docs() -> list[dict]:
    path = default_taxonomy_path().parent / "demo_corpus.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_ctfidf_prefers_words_distinctive_of_each_class():
    words = ctfidf_keywords(
        ["museum bees honey hive museum bees", "museum goal striker match goal", "museum painting museum canvas"], 2
    )
    assert words[0] == ["bees", "hive"] or set(words[0]) <= {"bees", "honey", "hive"}
    assert "museum" not in words[0] and "museum" not in words[1]
    assert words[1][0] == "goal"


def test_discover_finds_one_cluster_per_theme():
    texts = BEES + FOOTBALL + ["A lone sentence about the price of train tickets."]
    clusters = discover(texts, embedder().embed(texts), ["paintings in the museum"], DiscoveryParams())
    assert len(clusters) == 2
    bees, football = clusters  # largest first
    assert sorted(bees.members) == [0, 1, 2, 3, 4] and sorted(football.members) == [5, 6, 7, 8]
    assert {"bees", "honey", "hives", "hive", "beekeeper"} & set(bees.keywords[:3])
    assert {"team", "won", "football", "goalkeeper", "striker"} & set(football.keywords[:3])
    assert discover(texts[:2], embedder().embed(texts[:2]), [], DiscoveryParams()) == []  # under min size
    assert discover(texts, embedder().embed(texts), [], DiscoveryParams(enabled=False)) == []


def test_candidates_trend_in_trends_and_can_be_promoted(service):
    gateway, http = service
    docs = [
        {"id": d["id"], "text": d["text"], "timestamp": (NOW - timedelta(days=d["days_ago"])).isoformat()}
        for d in art_docs()
    ]
    docs += [
        {"id": f"bees-{i}", "text": t, "timestamp": (NOW - timedelta(days=1 + i / 2)).isoformat()}
        for i, t in enumerate(BEES)
    ]
    ingested = post_docs(http, docs)
    assert all(d["topics"] == [] for d in ingested["documents"] if d["id"].startswith("bees-"))

    params = {"window": "7d", "baseline": "60d", "bin": "1d", "now": NOW.isoformat()}
    body = http.get("/trends", params=params).json()
    candidates = body["candidates"]
    assert len(candidates) == 1 and body["unmatched_documents"] >= 5
    cand = candidates[0]
    assert cand["candidate"] is True and cand["recent_count"] == 5
    assert {"bees", "honey", "hive", "hives", "beekeeper"} & set(cand["keywords"])
    assert len(cand["series"]) == 67 and sum(p["count"] for p in cand["series"]) == 5
    assert cand["topic"] in [t["topic"] for t in body["trending"]]  # new and 5 strong: it trends
    taxonomy_rows = [t for t in body["topics"] if not t["candidate"]]
    assert taxonomy_rows and all(t["keywords"] == [] for t in taxonomy_rows)
    assert http.get("/trends", params={**params, "candidates": "false"}).json()["candidates"] == []

    # promote: the suggested topic goes into the Topics user_config; new documents get it
    promoted = TopicsConfig(promote=[cand["promote_as"]])
    topics_model = gateway.topics._target
    topics_model.configure(promoted)
    assert cand["promote_as"]["label"] in topics_model.info()["labels"]
    new = post_docs(http, [{"id": "bees-new", "text": "The bees in the museum garden hives made honey this summer."}])
    assert new["documents"][0]["topics"][0]["label"] == cand["promote_as"]["label"]


def test_trends_parameters_are_validated(service):
    _, http = service
    assert http.get("/trends", params={"window": "7x"}).status_code == 422
    assert http.get("/trends", params={"min_count": 0}).status_code == 422
    empty = http.get("/trends", params={"window": "1d", "baseline": "2d"}).json()
    assert empty["trending"] == [] and empty["topics"] == [] and empty["candidates"] == []
