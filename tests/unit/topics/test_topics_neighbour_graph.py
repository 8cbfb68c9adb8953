"""The pool's neighbour graph (topicserve/topics/refine.py, session 6): the neighbours' own nearest
neighbours, computed once per pool and blockwise, give each label set's estimate exactly what the
whole neighbours x neighbours product gave; and a store of up to ``gate_pool`` documents is used
whole. Real model, the support tickets of bench/data as the store."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.support.models import embed, embed_sync
from tests.unit.topics.test_topics_refine import SMALL, background, scorer, tickets
from topicserve.topics import TopicModel, TopicsConfig, refine
from topicserve.topics.refine import NeighbourGraph, RefineParams, estimate, nearest_others, neighbour_step, top_mean


def test_the_graph_blockwise_is_the_whole_matrix_row_by_row(monkeypatch):
    texts, _, _ = tickets()
    pool = embed_sync(texts)
    monkeypatch.setattr(refine, "GRAPH_BLOCK", 7)  # 80 tickets in 12 blocks, the last one short
    graph = NeighbourGraph.of(pool, SMALL)
    sims = pool @ pool.T
    assert graph.step == 1 and graph.neighbours.shape == pool.shape
    assert np.allclose(graph.closeness, top_mean(sims, 10), atol=1e-6)
    whole = nearest_others(sims, 10)
    assert all(set(a) == set(b) for a, b in zip(graph.nearest, whole, strict=True))
    assert not (graph.nearest == np.arange(len(pool))[:, None]).any()  # a document is not its own neighbour


def test_an_estimate_from_the_shared_graph_is_the_estimate_from_scratch():
    texts, _, labels = tickets()
    pool, score, bg = embed_sync(texts), scorer(labels), background()
    fresh = estimate(pool, score, bg, SMALL)
    shared = estimate(pool, score, bg, SMALL, NeighbourGraph.of(pool, SMALL))
    assert fresh is not None and shared is not None and fresh.neighbour_z is not None
    assert np.allclose(fresh.neighbour_z, shared.neighbour_z, atol=1e-5)
    assert fresh.agreement == shared.agreement and fresh.gate_low == shared.gate_low
    wrong = NeighbourGraph.of(pool, SMALL.model_copy(update={"gate_pool": 40}))  # every 2nd ticket: not this pool's
    assert not wrong.fits(pool, SMALL)
    again = estimate(pool, score, bg, SMALL, wrong)  # a graph that does not fit is recomputed, not used
    assert again is not None and np.allclose(again.neighbour_z, fresh.neighbour_z, atol=1e-5)


def test_the_topic_model_takes_the_graph_with_the_pool_and_every_label_set_shares_it():
    texts, _, labels = tickets()
    vectors = embed_sync(texts)
    model = TopicModel(embed, TopicsConfig(taxonomy=labels))
    model.refiner.params = SMALL
    assert asyncio.run(model.set_pool(vectors, 1234)) is not None
    graph = model.refiner.graph
    assert graph is not None and graph.pool is model.refiner.pool and model.refiner.source_count == 1234
    found = asyncio.run(
        model.backend.scorer.refinement(labels, asyncio.run(model.label_vectors.prototypes(labels, "prototypes")))
    )
    assert found is not None and found.neighbours is not None and np.shares_memory(found.neighbours, graph.pool)
    other = labels[:3]  # another label set: another refinement, the same neighbours
    again = asyncio.run(
        model.backend.scorer.refinement(other, asyncio.run(model.label_vectors.prototypes(other, "prototypes")))
    )
    assert again is not None and again.neighbour_z.shape == (len(vectors), 3)
    assert again.neighbours is not None and np.shares_memory(again.neighbours, graph.pool)


@pytest.mark.parametrize(("pool_size", "step"), [(2000, 1), (5600, 1), (8192, 1), (8193, 2), (20000, 3)])
def test_a_store_up_to_gate_pool_documents_is_used_whole(pool_size, step):
    # the default cap is set by the cost per call (docs/quality.md, session 6): 8,192 neighbours,
    # beyond that every n-th; 4,096 (every 2nd of a 5,600-document store) before
    assert neighbour_step(pool_size, RefineParams()) == step
