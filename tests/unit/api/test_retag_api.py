"""The HTTP surface of versions and re-tag, in-process (real model, real LanceDB, the real API app):
documents carry their taxonomy version, a promoted topic makes the store stale, /readyz, /search
and /trends say so until the re-tag has run, and afterwards the old documents have the new topic."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from topicserve.taxonomy import Label
from topicserve.topics import TopicsConfig

NOW = datetime.now(UTC).replace(microsecond=0)
BEES = [
    "The beekeeper checked the hives and found the bees healthy after the winter.",
    "Honey production fell this year because the bees had a wet spring.",
    "A swarm of bees settled in an apple tree and the beekeeper caught it in a box.",
]
ART = [
    "The conservator removed yellowed varnish from the oil painting.",
    "A bronze statue of the founder was unveiled in the sculpture garden.",
]
BEEKEEPING = Label(label="beekeeping", description="Bees, beekeepers, hives and honey.")


def test_a_promoted_topic_reaches_stored_documents_and_responses_say_when_mixed(service):
    gateway, http = service
    docs = [
        {"id": f"t{i}", "text": t, "timestamp": (NOW - timedelta(hours=i + 1)).isoformat()}
        for i, t in enumerate(BEES + ART)
    ]
    posted = http.post("/documents", json={"documents": docs}).json()
    first = posted["taxonomy_version"]
    assert first.startswith("tx-") and http.get("/documents/t0").json()["taxonomy_version"] == first
    ready = http.get("/readyz").json()
    assert ready["retag"] == {"version": first, "done": 5, "total": 5, "in_progress": False}
    query = {"query": "honey from the hives", "k": 5}
    assert http.post("/search", json=query).json()["mixed"] is False
    trends = http.get("/trends", params={"window": "3h", "baseline": "6h", "bin": "1h", "candidates": False}).json()
    assert trends["taxonomy_versions"] == {first: 5} and trends["mixed"] is False
    assert trends["drift"]["bins"] and sum(b["documents"] for b in trends["drift"]["bins"]) == 5

    gateway.topics._target.configure(TopicsConfig(promote=[BEEKEEPING]))  # what a user_config `promote:` does
    ready = http.get("/readyz").json()["retag"]
    second = ready["version"]
    assert second != first and ready == {"version": second, "done": 0, "total": 5, "in_progress": True}
    assert http.post("/search", json=query).json() | {"results": None} == {
        "results": None,
        "model": posted["model"],
        "taxonomy_version": second,
        "mixed": True,
    }
    assert http.post("/search", json={**query, "topic": "beekeeping"}).json()["results"] == []  # not yet
    stale = http.get("/trends", params={"window": "3h", "baseline": "6h", "bin": "1h", "candidates": False}).json()
    assert stale["taxonomy_versions"] == {first: 5} and stale["taxonomy_version"] == second and stale["mixed"]
    new = http.post("/documents", json={"documents": [{"id": "n1", "text": BEES[0]}]}).json()
    assert new["taxonomy_version"] == second and new["documents"][0]["topics"][0]["label"] == "beekeeping"

    assert asyncio.run(gateway.state._target.retag_now()) == 5
    assert http.get("/readyz").json()["retag"] == {"version": second, "done": 6, "total": 6, "in_progress": False}
    found = http.post("/search", json={**query, "topic": "beekeeping"}).json()
    assert found["mixed"] is False and {r["id"] for r in found["results"]} == {"t0", "t1", "t2", "n1"}
    assert {r["taxonomy_version"] for r in found["results"]} == {second}
    trends = http.get("/trends", params={"window": "3h", "baseline": "6h", "bin": "1h", "candidates": False}).json()
    assert trends["taxonomy_versions"] == {second: 6} and trends["taxonomy_version"] == second
    assert "beekeeping" in {t["topic"] for t in trends["topics"]}
