"""DocumentStore on a real LanceDB table in a tmp dir: round trip, reopen, space guard, deletes, lists."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from tests.support.store import SPACE, T0, doc, unit
from topicserve.errors import InvalidInput, ModelMismatch, NotFound
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, LegacyStoreError


def open_store(path) -> DocumentStore:
    return DocumentStore(str(path), background=False)


def test_round_trip_and_reopen_restore_every_acknowledged_batch(tmp_path):
    store = open_store(tmp_path)
    first = doc(0, source="wire", tags=["a", "b"])
    store.upsert([first, doc(1)], unit([1, 0, 0, 0], [0, 1, 0, 0]), SPACE)
    store.upsert([doc(2)], unit([0, 0, 1, 0]), SPACE)
    again = open_store(tmp_path)
    assert len(again) == 3 and again.space == SPACE
    assert again.get("d0") == first  # text, UTC timestamp, metadata and topics as written
    hit, score = again.search(unit([0, 0, 1, 0])[0], SPACE, 1)[0]
    assert hit.id == "d2" and score == pytest.approx(1.0, abs=1e-5)


def test_upsert_replaces_an_id_with_one_copy(tmp_path):
    store = open_store(tmp_path)
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    store.upsert([doc(0, topic="sculpture")], unit([0, 1, 0, 0]), SPACE)
    again = open_store(tmp_path)
    assert len(again) == 1
    assert again.get("d0").topics[0].label == "sculpture"
    assert again.search(unit([0, 1, 0, 0])[0], SPACE, 5)[0][1] == pytest.approx(1.0, abs=1e-5)


def test_bad_batches_store_nothing(tmp_path):
    store = open_store(tmp_path)
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    version = store.table.version
    with pytest.raises(ValueError):
        store.upsert([doc(1), doc(2)], unit([1, 0, 0, 0]), SPACE)  # 2 docs, 1 vector
    with pytest.raises(ModelMismatch):
        store.upsert([doc(3)], np.ones((1, 3), np.float32), EmbeddingSpace(model="m", dim=3))
    again = open_store(tmp_path)
    assert [d.id for d in again.documents()] == ["d0"] and again.table.version == version


def test_space_guard_holds_on_reopen_and_names_both_models(tmp_path):
    open_store(tmp_path).upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    store = open_store(tmp_path)
    other = EmbeddingSpace(model="other-model", dim=8)
    with pytest.raises(ModelMismatch) as err:
        store.bind(other)
    assert "m (4-dim" in err.value.message and "other-model (8-dim" in err.value.message
    assert err.value.status == 409
    with pytest.raises(ModelMismatch):
        store.search(np.ones(8, np.float32), other, 1)
    with pytest.raises(ModelMismatch):  # same name, wrong size: still refused
        store.search(np.ones(8, np.float32), SPACE, 1)


def test_empty_store_answers_empty_never_an_error(tmp_path):
    store = open_store(tmp_path)
    q = unit([1, 0, 0, 0])[0]
    assert store.search(q, SPACE, 5) == [] and store.list() == ([], None)
    assert store.trends(T0, timedelta(days=7), timedelta(days=30), timedelta(days=1))["topics"] == []
    store.bind(SPACE)  # a table with no rows
    for mode in ("vector", "keyword", "hybrid"):
        assert store.search(q, SPACE, 5, mode=mode, text="anything") == []
    assert store.trends(T0, timedelta(days=7), timedelta(days=30), timedelta(days=1))["trending"] == []
    assert store.stats()["documents"] == 0


def test_stats_name_no_storage_location(tmp_path):
    store = open_store(tmp_path)
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    stats = store.stats()
    assert stats["documents"] == 1 and stats["space"]["model"] == "m" and stats["index"]["fts"] is True
    assert str(tmp_path) not in json.dumps(stats) and "uri" not in json.dumps(stats)


def test_search_filters_are_pushed_into_the_query(tmp_path):
    store = open_store(tmp_path)
    store.upsert(
        [doc(0, "Painting", 0), doc(1, "sculpture", 10), doc(2, "painting", 20)],
        unit([1, 0, 0, 0], [0.9, 0.1, 0, 0], [0.5, 0.5, 0, 0]),
        SPACE,
    )
    q = unit([1, 0, 0, 0])[0]
    assert [d.id for d, _ in store.search(q, SPACE, 3)] == ["d0", "d1", "d2"]
    assert [d.id for d, _ in store.search(q, SPACE, 3, topic="PAINTING")] == ["d0", "d2"]
    assert [d.id for d, _ in store.search(q, SPACE, 3, since=T0 + timedelta(days=5))] == ["d1", "d2"]
    assert [d.id for d, _ in store.search(q, SPACE, 3, until=T0 + timedelta(days=5))] == ["d0"]
    assert store.search(q, SPACE, 3, topic="architecture") == []
    assert store.search(q, SPACE, 3, topic="it's") == []  # quotes are values, never SQL


def test_delete_is_durable_after_reopen_and_optimize(tmp_path):
    store = open_store(tmp_path)
    store.upsert([doc(i, days=i) for i in range(6)], unit(*[[1, i, 0, 0] for i in range(6)]), SPACE)
    assert store.delete(["d1", "d2", "missing"]) == 2
    assert store.delete_where(topic="painting", since=T0 + timedelta(days=4)) == 2  # d4, d5
    with pytest.raises(InvalidInput):
        store.delete_where()  # an empty filter would delete everything
    store.maintenance.run(force=True)  # compaction + cleanup of old versions
    again = open_store(tmp_path)
    again.maintenance.run(force=True)
    assert sorted(d.id for d in again.documents()) == ["d0", "d3"]
    with pytest.raises(NotFound):
        again.get("d1")
    assert {d.id for d, _ in again.search(unit([1, 1, 0, 0])[0], SPACE, 10)} == {"d0", "d3"}


def test_list_pages_in_a_stable_order_with_filters(tmp_path):
    store = open_store(tmp_path)
    docs = [doc(i, "painting" if i % 2 else "sculpture", days=i) for i in range(25)]
    store.upsert(docs, unit(*[[1, i, 0, 0] for i in range(25)]), SPACE)
    seen, cursor = [], None
    while True:
        page, cursor = store.list(limit=7, cursor=cursor)
        seen += [d.id for d in page]
        if cursor is None:
            break
    assert seen == sorted(d.id for d in docs)
    page, cursor = store.list(topic="painting", since=T0 + timedelta(days=10), limit=100)
    assert [d.id for d in page] == sorted(f"d{i}" for i in range(11, 25, 2)) and cursor is None
    with pytest.raises(InvalidInput):
        store.list(cursor="%%%")


def test_unknown_id_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        open_store(tmp_path).get("nope")


def test_old_format_store_is_refused_naming_the_migration_command(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "space": None, "segments": []}))
    with pytest.raises(LegacyStoreError, match="python -m topicserve store migrate --from"):
        DocumentStore(str(tmp_path))
