"""Search on a real LanceDB table: exact vs ANN index, filters with the index, keyword and hybrid."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest

from tests.support.store import T0
from topicserve.settings import Settings
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, StoredDocument
from topicserve.topics import TopicScore

DIM = 32
SPACE = EmbeddingSpace(model="random", dim=DIM)


def random_unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def docs(n: int, start: int = 0) -> list[StoredDocument]:
    return [
        StoredDocument(
            id=f"r{i:05d}",
            text=f"row {i}",
            timestamp=T0 + timedelta(minutes=i),
            topics=[TopicScore(label="odd" if i % 2 else "even", score=0.5)],
        )
        for i in range(start, start + n)
    ]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """3,000 random vectors, ANN index (IVF_HNSW_SQ) built past a low threshold."""
    settings = Settings(
        ann_threshold=2000, ann_index_type="IVF_HNSW_SQ", ann_nprobes=8, ann_refine_factor=4, exact_filter_rows=0
    )  # ANN + filters
    store = DocumentStore(str(tmp_path_factory.mktemp("ann")), settings=settings, background=False)
    vectors = random_unit(3000, seed=1)
    for start in range(0, 3000, 1000):
        store.upsert(docs(1000, start), vectors[start : start + 1000], SPACE)
    assert store.stats()["index"]["vector"] is None  # exact until the background round runs
    assert store.maintenance.run(force=True) == {"indexed": True, "optimized": True}
    return store, vectors


def ids(hits) -> list[str]:
    return [d.id for d, _ in hits]


def test_ann_index_agrees_with_exact_search(indexed):
    store, _ = indexed
    assert store.stats()["index"]["vector"] is not None and store.stats()["index"]["unindexed_rows"] == 0
    queries = random_unit(30, seed=2)
    recall = np.mean(
        [
            len(set(ids(store.search(q, SPACE, 10))) & set(ids(store.search(q, SPACE, 10, exact=True)))) / 10
            for q in queries
        ]
    )
    assert recall >= 0.9
    exact = store.search(queries[0], SPACE, 10, exact=True)
    assert [s for _, s in exact] == sorted((s for _, s in exact), reverse=True)


def test_filters_with_the_index_keep_k_results_and_only_matches(indexed):
    store, _ = indexed
    q = random_unit(1, seed=3)[0]
    hits = store.search(q, SPACE, 10, topic="odd", since=T0 + timedelta(minutes=2900))
    assert len(hits) == 10 and all(int(d.id[1:]) % 2 == 1 and int(d.id[1:]) >= 2900 for d, _ in hits)
    assert ids(hits) == ids(store.search(q, SPACE, 10, topic="odd", since=T0 + timedelta(minutes=2900), exact=True))


def test_rows_written_after_the_index_are_found(indexed):
    store, _ = indexed
    new = random_unit(1, seed=4)
    store.upsert(docs(1, start=5000), new, SPACE)
    assert store.stats()["index"]["unindexed_rows"] == 1
    hit, score = store.search(new[0], SPACE, 1)[0]
    assert hit.id == "r05000" and score == pytest.approx(1.0, abs=1e-4)


def test_background_thread_builds_the_index_past_the_threshold(tmp_path):
    settings = Settings(ann_threshold=300, ann_index_type="IVF_PQ", ann_sub_vectors=4, optimize_every_writes=1)
    store = DocumentStore(str(tmp_path), settings=settings)
    try:
        store.upsert(docs(400), random_unit(400, seed=5), SPACE)
        for _ in range(600):
            if store.stats()["index"]["vector"]:
                break
            time.sleep(0.1)
        assert store.stats()["index"]["vector"] == "IvfPq"
    finally:
        store.close()


# Near-identical part numbers in short texts, and the exact one inside a long text about something else.
CODE_TEXTS = [
    "Part X7Q2P8 ships today.",
    "Part X7Q2P6 ships today.",
    "Part X7Q3P9 ships today.",
    "Part Y7Q2P9 ships today.",
    "The restorers cleaned the altarpiece and, for the record, logged the replacement hinge as X7Q2P9 in the "
    "workshop book.",
]


def test_keyword_and_hybrid_find_an_exact_code_that_vector_search_misses(tmp_path, embedder):
    store = DocumentStore(str(tmp_path), background=False)
    space = EmbeddingSpace(model="minilm", dim=384)
    rows = [StoredDocument(id=f"c{i}", text=t, timestamp=T0) for i, t in enumerate(CODE_TEXTS)]
    store.upsert(rows, embedder.embed(CODE_TEXTS), space)
    query = "X7Q2P9"
    vector = embedder.embed([query])[0]
    assert "c4" not in ids(store.search(vector, space, 2))  # embeddings blur codes
    assert ids(store.search(None, space, 3, mode="keyword", text=query)) == ["c4"]  # only the exact token
    assert "c4" in ids(store.search(vector, space, 2, mode="hybrid", text=query))
