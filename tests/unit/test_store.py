"""DocumentStore: atomic batches, restart recovery, compaction, filters and space checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from topicserve.errors import ModelMismatch, NotFound
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, StoredDocument
from topicserve.topics import TopicScore

SPACE = EmbeddingSpace(model="m", dim=4)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def doc(i: int, topic: str = "painting", days: int = 0) -> StoredDocument:
    return StoredDocument(
        id=f"d{i}", text=f"text {i}", timestamp=T0 + timedelta(days=days), topics=[TopicScore(label=topic, score=0.5)]
    )


def unit(*rows) -> np.ndarray:
    m = np.array(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_restart_restores_every_acknowledged_batch(tmp_path):
    store = DocumentStore(str(tmp_path))
    store.upsert([doc(0), doc(1)], unit([1, 0, 0, 0], [0, 1, 0, 0]), SPACE)
    store.upsert([doc(2)], unit([0, 0, 1, 0]), SPACE)
    again = DocumentStore(str(tmp_path))
    assert len(again) == 3 and again.space == SPACE
    assert again.search(unit([0, 0, 1, 0])[0], SPACE, 1)[0][0].id == "d2"


def test_replacing_an_id_keeps_one_copy(tmp_path):
    store = DocumentStore(str(tmp_path))
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    store.upsert([doc(0, topic="sculpture")], unit([0, 1, 0, 0]), SPACE)
    again = DocumentStore(str(tmp_path))
    assert len(again) == 1
    assert again.get("d0").topics[0].label == "sculpture"
    assert again.search(unit([0, 1, 0, 0])[0], SPACE, 5)[0][1] == pytest.approx(1.0)


def test_a_failed_write_leaves_nothing_half_written(tmp_path):
    store = DocumentStore(str(tmp_path))
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    with pytest.raises(ValueError):
        store.upsert([doc(1), doc(2)], unit([1, 0, 0, 0]), SPACE)  # 2 docs, 1 vector
    with pytest.raises(ModelMismatch):
        store.upsert([doc(3)], np.ones((1, 3), np.float32), EmbeddingSpace(model="m", dim=3))
    again = DocumentStore(str(tmp_path))
    assert [d.id for d in again.documents()] == ["d0"]


def test_uncommitted_segment_is_ignored_after_restart(tmp_path):
    """A segment written without its manifest update (a crash in between) is not visible."""
    store = DocumentStore(str(tmp_path))
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    (tmp_path / "seg-000099.jsonl").write_text(json.dumps({"id": "ghost"}) + "\n")
    assert [d.id for d in DocumentStore(str(tmp_path)).documents()] == ["d0"]


def test_compaction_merges_segments(tmp_path):
    store = DocumentStore(str(tmp_path), compact_every=3)
    for i in range(7):
        store.upsert([doc(i)], unit([1, i, 0, 0]), SPACE)
    assert len(list(tmp_path.glob("seg-*.jsonl"))) <= 3
    again = DocumentStore(str(tmp_path))
    assert sorted(d.id for d in again.documents()) == [f"d{i}" for i in range(7)]


def test_search_filters_and_order(tmp_path):
    store = DocumentStore(str(tmp_path))
    store.upsert(
        [doc(0, "painting", 0), doc(1, "sculpture", 10), doc(2, "painting", 20)],
        unit([1, 0, 0, 0], [0.9, 0.1, 0, 0], [0.5, 0.5, 0, 0]),
        SPACE,
    )
    q = unit([1, 0, 0, 0])[0]
    assert [d.id for d, _ in store.search(q, SPACE, 3)] == ["d0", "d1", "d2"]
    assert [d.id for d, _ in store.search(q, SPACE, 3, topic="PAINTING")] == ["d0", "d2"]
    assert [d.id for d, _ in store.search(q, SPACE, 3, since=T0 + timedelta(days=5))] == ["d1", "d2"]
    assert [d.id for d, _ in store.search(q, SPACE, 3, until=T0 + timedelta(days=5))] == ["d0"]
    assert store.search(q, SPACE, 3, topic="architecture") == []


def test_query_from_another_space_fails_naming_both(tmp_path):
    store = DocumentStore(str(tmp_path))
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    other = EmbeddingSpace(model="other-model", dim=8)
    with pytest.raises(ModelMismatch) as err:
        store.search(np.ones(8, np.float32), other, 1)
    assert "m (4-dim" in err.value.message and "other-model (8-dim" in err.value.message
    assert err.value.status == 409
    with pytest.raises(ModelMismatch):  # same name, wrong size: still refused
        store.search(np.ones(8, np.float32), SPACE, 1)
    with pytest.raises(ModelMismatch):
        DocumentStore(str(tmp_path)).bind(other)


def test_unknown_id_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        DocumentStore(str(tmp_path)).get("nope")
