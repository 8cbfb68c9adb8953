"""The shipped vector index: a table past the threshold gets the default index type (real LanceDB),
and a search through it finds a stored vector's own document first, with its exact score."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.support.store import T0
from topicserve.settings import Settings
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, StoredDocument
from topicserve.store.maintenance import default_partitions, index_params
from topicserve.topics import TopicScore

DIM = 32
SPACE = EmbeddingSpace(model="random", dim=DIM)
ROWS = 2500


def unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """ROWS random vectors written in 5 commits, with the shipped settings but a threshold of 2,000."""
    settings = Settings(ann_threshold=2000)
    store = DocumentStore(str(tmp_path_factory.mktemp("index")), settings=settings, background=False)
    vectors = unit(ROWS, seed=7)
    for start in range(0, ROWS, 500):
        docs = [
            StoredDocument(
                id=f"r{i:05d}",
                text=f"row {i}",
                timestamp=T0 + timedelta(minutes=i),
                topics=[TopicScore(label="odd" if i % 2 else "even", score=0.5)],
            )
            for i in range(start, start + 500)
        ]
        store.upsert(docs, vectors[start : start + 500], SPACE)
    assert store.stats()["index"]["vector"] is None  # exact until the background round runs
    assert store.maintenance.run(force=True)["indexed"]
    return store, vectors


def test_the_table_past_the_threshold_gets_the_default_index_type(store):
    s, _ = store
    index = s.stats()["index"]
    assert Settings().ann_index_type == "IVF_PQ"
    assert index["vector"] == "IvfPq" and index["indexed_rows"] == ROWS and index["unindexed_rows"] == 0
    assert s.maintenance.run(force=False)["indexed"] is False  # built once, not again


def test_search_through_the_index_returns_the_stored_vector_first(store):
    s, vectors = store
    for i in (0, 1234, ROWS - 1):
        hits = s.search(vectors[i], SPACE, 10)
        assert len(hits) == 10
        assert hits[0][0].id == f"r{i:05d}" and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        exact = s.search(vectors[i], SPACE, 10, exact=True)
        assert [d.id for d, _ in hits][:3] == [d.id for d, _ in exact][:3]  # refined: exact scores, same order


def test_default_partitions_per_index_type():
    assert default_partitions("IVF_HNSW_SQ", 1_000_000) == 2
    assert default_partitions("IVF_HNSW_SQ", 100_000) == 1
    assert default_partitions("IVF_PQ", 1_000_000) == 250
    assert default_partitions("IVF_PQ", ROWS) == 1
    params = index_params(Settings(ann_index_type="IVF_HNSW_PQ"), 1_000_000, 384)
    assert params == {
        "index_type": "IVF_HNSW_PQ",
        "num_partitions": 2,
        "num_sub_vectors": 48,
        "m": 20,
        "ef_construction": 300,
    }
