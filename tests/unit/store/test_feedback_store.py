"""Feedback and query-log tables next to the documents, on a real LanceDB in a tmp dir (and on S3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.support.s3 import open_s3
from tests.support.store import SPACE, doc, unit
from topicserve.errors import NotFound
from topicserve.settings import Settings
from topicserve.store import DocumentStore
from topicserve.store.feedback import FeedbackItemIn
from topicserve.store.querylog import QueryRow
from topicserve.store.service import InProcessState, SideStores


def stores(path, **settings) -> InProcessState:
    store = DocumentStore(str(path), background=False)
    store.upsert([doc(0), doc(1), doc(2)], unit([1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]), SPACE)
    return InProcessState(store, str(path), Settings(**settings))


def item(topic: str, verdict: str, note: str | None = None) -> FeedbackItemIn:
    return FeedbackItemIn(topic=topic, verdict=verdict, note=note)


def test_feedback_is_stored_listed_and_survives_a_reopen(tmp_path):
    state = stores(tmp_path)
    g0 = state.feedback_generation()
    added = state.feedback_add("d0", [item("painting", "confirmed"), item("sculpture", "rejected", "a bust")], "rid-1")
    assert state.feedback_generation() != g0
    again = SideStores(DocumentStore(str(tmp_path), background=False), str(tmp_path))
    listed = again.feedback_list("d0")
    assert [(r.topic, r.verdict, r.note, r.request_id) for r in listed] == [
        ("painting", "confirmed", None, "rid-1"),
        ("sculpture", "rejected", "a bust", "rid-1"),
    ]
    assert {r.id for r in listed} == {r.id for r in added} and listed[0].timestamp.tzinfo is not None
    assert again.feedback_list("d1") == []


def test_unknown_document_is_404_and_nothing_is_written(tmp_path):
    state = stores(tmp_path)
    version = state.feedback_generation()
    with pytest.raises(NotFound) as err:
        state.feedback_add("nope", [item("painting", "confirmed")], None)
    assert err.value.status == 404 and err.value.field == "id"
    with pytest.raises(NotFound):
        state.feedback_list("nope")
    assert state.feedback_generation() == version and state.feedback.records() == []


def test_examples_follow_the_newest_verdict_and_skip_deleted_documents(tmp_path):
    state = stores(tmp_path)
    state.feedback_add("d0", [item("painting", "rejected")], None)
    state.feedback_add("d0", [item("Painting", "confirmed")], None)  # later, other case: it wins
    state.feedback_add("d1", [item("painting", "added")], None)
    state.feedback_add("d2", [item("painting", "confirmed"), item("sculpture", "rejected")], None)
    state.delete(["d2"])
    examples = state.feedback_examples(10)
    assert set(examples) == {"painting"}
    got = sorted(map(tuple, np.round(examples["painting"], 3)))
    assert got == sorted(map(tuple, np.round(unit([1, 0, 0, 0], [0, 1, 0, 0]), 3)))
    assert len(state.feedback_examples(1)["painting"]) == 1
    docs = state.feedback_documents(10)
    assert {d["id"]: (d["positive"], d["rejected"]) for d in docs} == {
        "d0": (["Painting"], []),
        "d1": (["painting"], []),
    }


def row(query: str, minutes_ago: float = 0, now=None) -> QueryRow:
    now = now or datetime.now(UTC)
    return QueryRow(query=query, timestamp=now - timedelta(minutes=minutes_ago), result_ids=["d0"], latency_ms=3.5)


def test_query_log_top_groups_normalised_queries_and_filters_by_time(tmp_path):
    state = stores(tmp_path)
    assert state.top_queries(5) == []
    now = datetime.now(UTC)
    state.log_queries([row("Fresco  cleaning", 1, now), row("fresco cleaning ", 2, now), row("bust", 3, now)])
    state.log_queries([row("old", 600, now), row("old", 601, now), row("old", 602, now)])
    top = state.top_queries(5)
    assert [(t["query"], t["count"]) for t in top] == [("old", 3), ("fresco cleaning", 2), ("bust", 1)]
    recent = state.top_queries(1, since=now - timedelta(hours=1))
    assert [(t["query"], t["count"]) for t in recent] == [("fresco cleaning", 2)]


def test_query_log_prunes_by_age_and_by_rows(tmp_path):
    state = stores(tmp_path, query_log_prune_s=0, query_log_days=1, query_log_max_rows=4)
    now = datetime.now(UTC)
    dropped = state.log_queries([row("ancient", 2 * 24 * 60, now)] + [row(f"q{i}", 10 - i, now) for i in range(6)])
    assert dropped == 3 and state.queries.count() == 4
    assert {t["query"] for t in state.top_queries(10)} == {"q2", "q3", "q4", "q5"}  # the newest four


def test_side_tables_on_s3(s3):  # the fixture: tests/unit/store/conftest.py
    uri, settings = s3
    store = open_s3(s3)
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    state = SideStores(store, uri, settings)
    state.feedback_add("d0", [item("painting", "confirmed")], "r")
    state.log_queries([row("fresco")])
    again = SideStores(open_s3(s3), uri, settings)
    assert [r.topic for r in again.feedback_list("d0")] == ["painting"]
    assert again.top_queries(1)[0]["query"] == "fresco"
