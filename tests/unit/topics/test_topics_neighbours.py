"""Neighbour smoothing of the refinement (topicserve/topics/refine.py): a text's z-scores move toward
those of its nearest stored documents. Real model, the support tickets of bench/data as the store
(no labels used to refine), the bundled art texts as texts unlike it."""

from __future__ import annotations

import asyncio

import numpy as np

from tests.support.models import embed, embed_sync
from tests.unit.topics.test_topics_refine import SMALL, background, scorer, tickets
from tests.unit.topics.test_topics_refine_guards import art_texts
from topicserve.topics import TopicModel, TopicsConfig
from topicserve.topics.refine import Refinement, agreement, estimate, nearest_others
from topicserve.topics.rules import confidences
from topicserve.topics.version import taxonomy_version


def ticket_refinement():
    texts, gold, labels = tickets()
    pool, score, bg = embed_sync(texts), scorer(labels), background()
    refinement = estimate(pool, score, bg, SMALL)
    assert refinement is not None and refinement.neighbour_z is not None
    mean, std = score(bg).mean(0), np.maximum(score(bg).std(0), 1e-3)

    def z(vectors, smooth=True):
        scores, m, s = refinement.apply(vectors, score(vectors), mean, std, smooth)
        return (scores - m) / s

    return refinement, pool, z, [x.label for x in labels], gold


def test_each_text_moves_toward_its_nearest_other_stored_documents():
    refinement, pool, z, _, _ = ticket_refinement()
    assert refinement.neighbour_z.shape == (len(pool), 5)  # every ticket is a neighbour (80 < gate_pool)
    sims = pool @ refinement.neighbours.T
    found = nearest_others(sims, refinement.k)
    assert not (found == np.arange(len(pool))[:, None]).any()  # a stored text is not its own neighbour
    brute = np.argsort(-sims, axis=1)[:, 1 : refinement.k + 1]  # by full sort, the text itself first
    assert all(set(a) == set(b) for a, b in zip(found, brute, strict=True))
    plain, gate = z(pool, smooth=False), refinement.gate(pool)[:, None]
    expected = plain + refinement.neighbour_weight * gate * (refinement.neighbour_z[brute].mean(axis=1) - plain)
    assert np.allclose(z(pool), expected, atol=1e-4) and not np.allclose(z(pool), plain, atol=0.1)


def test_smoothing_keeps_the_tickets_right_and_wrong_neighbours_would_not():
    refinement, pool, z, names, gold = ticket_refinement()
    accuracy = lambda zs: np.mean([names[j] == g for j, g in zip(zs.argmax(1), gold, strict=True)])  # noqa: E731
    plain = z(pool, smooth=False)
    assert accuracy(z(pool)) >= accuracy(plain) >= 0.8  # measured 0.85 and 0.85
    far = np.argsort(pool @ refinement.neighbours.T, axis=1)[:, : refinement.k]  # the least similar instead
    wrong = plain + refinement.neighbour_weight * (refinement.neighbour_z[far].mean(axis=1) - plain)
    assert accuracy(wrong) <= accuracy(plain) - 0.1  # measured 0.725 against 0.85: a wrong choice shows


def test_texts_unlike_the_store_are_not_smoothed():
    refinement, _, z, _, _ = ticket_refinement()
    art = embed_sync(art_texts())  # art-collection texts scored against ticket labels over a store of tickets
    assert refinement.gate(art).max() == 0.0
    assert np.allclose(z(art), z(art, smooth=False))


def test_the_switch_turns_it_off_and_is_part_of_the_version():
    texts, _, labels = tickets()
    vectors = embed_sync(texts)

    async def confidences(smooth: bool):
        model = TopicModel(embed, TopicsConfig(taxonomy=labels, refine_neighbours=smooth))
        model.refiner.params = SMALL
        await model.set_pool(vectors)
        assigned = await model.assign(texts, vectors)
        return [t.confidence for row in assigned for t in row], model.info()["refine_neighbours"]

    (on, said_on), (off, said_off) = asyncio.run(confidences(True)), asyncio.run(confidences(False))
    assert said_on is True and said_off is False and on != off
    versions = {
        taxonomy_version(TopicsConfig(taxonomy=labels, refine_neighbours=s), labels, "m", (), "pl-80-x")
        for s in (True, False)
    }
    assert len(versions) == 2
    unrefined = {
        taxonomy_version(TopicsConfig(taxonomy=labels, refine_from_store=False, refine_neighbours=s), labels, "m")
        for s in (True, False)
    }
    assert len(unrefined) == 1  # without refinement the switch changes nothing, nor the version


def test_weight_zero_estimates_no_neighbour_scores():
    texts, _, labels = tickets()
    params = SMALL.model_copy(update={"neighbour_weight": 0.0})
    refinement = estimate(embed_sync(texts), scorer(labels), background(), params)
    assert refinement is not None and refinement.neighbour_z is None


def test_the_weight_follows_how_often_stored_neighbours_share_a_best_label():
    refinement, pool, _, _, _ = ticket_refinement()
    best = refinement.neighbour_z.argmax(axis=1)
    brute = np.argsort(-(pool @ refinement.neighbours.T), axis=1)[:, 1 : refinement.k + 1]
    shared = float((best[brute] == best[:, None]).mean())
    assert abs(agreement(refinement.neighbours, refinement.neighbour_z, refinement.k) - shared) < 1e-9
    assert shared >= 0.55 and np.isclose(refinement.neighbour_weight, 0.7 * shared)  # measured 0.68
    # a store of 40 art texts under their 11 labels (3-8 a label): neighbours are mostly of other topics
    art = TopicModel(embed, TopicsConfig()).taxonomy.topics
    loose = SMALL.model_copy(update={"min_support": 3, "min_confidence": 0.2})
    small = estimate(embed_sync(art_texts()), scorer(art), background(), loose)
    assert small is not None and small.neighbour_weight < 0.35 < refinement.neighbour_weight  # measured 0.14


def test_nearest_others_on_tiny_and_duplicate_neighbour_sets():
    one = np.array([[0.5], [1.0]], np.float32)  # a single neighbour: taken as it is, even the text itself
    assert nearest_others(one, 10).tolist() == [[0], [0]]
    sims = np.array([[1.0, 1.0, 0.3, 0.9]], np.float32)  # two stored copies of the text, then two others
    assert sorted(nearest_others(sims, 2)[0].tolist()) == [2, 3]


def two_cluster_refinement(agreed: float, gate_low: float = -1.0) -> Refinement:
    """10 stored documents along e0 (best label 0), 10 along e1 (best label 1); no centroids."""
    rng = np.random.default_rng(0)
    pool = np.concatenate([np.eye(3)[[0] * 10], np.eye(3)[[1] * 10]]) + 0.05 * rng.standard_normal((20, 3))
    pool = (pool / np.linalg.norm(pool, axis=1, keepdims=True)).astype(np.float32)
    near_z = np.array([[3.0, 0.0]] * 10 + [[0.0, 3.0]] * 10, np.float32)
    return Refinement(
        pool.mean(0), np.zeros((2, 3), np.float32), 0.4, np.zeros(2), np.ones(2), (0, 0), 20,
        gate_low=gate_low, gate_high=gate_low + 0.1, neighbours=pool, k=10, neighbour_z=near_z,
        neighbour_weight=0.7 * agreed, agreement=agreed,
    )  # fmt: skip


def test_the_neighbours_vote_weighs_each_label_by_the_gate_and_the_agreement():
    text, base = np.array([[1.0, 0.0, 0.0]], np.float32), np.zeros((1, 2))  # among the label-0 documents
    *_, vote = two_cluster_refinement(1.0).apply_with_vote(text, base, np.zeros(2), np.ones(2))
    assert np.allclose(vote, [[1.0, 0.0]])  # every neighbour's best label is 0
    *_, vote = two_cluster_refinement(0.2).apply_with_vote(text, base, np.zeros(2), np.ones(2))
    assert np.allclose(vote, [[1.0, 0.8]])  # a store whose neighbours rarely agree barely votes
    *_, vote = two_cluster_refinement(1.0, gate_low=1.0).apply_with_vote(text, base, np.zeros(2), np.ones(2))
    assert np.allclose(vote, 1.0)  # a text no closer than the floor (gate 0): no vote
    assert two_cluster_refinement(1.0).apply_with_vote(text, base, np.zeros(2), np.ones(2), smooth=False)[3] is None


def test_the_topics_confidences_are_the_softmax_times_the_vote():
    texts, _, labels = tickets()
    vectors = embed_sync(texts)
    model = TopicModel(embed, TopicsConfig(taxonomy=labels, margin=0.0))
    model.refiner.params = SMALL
    asyncio.run(model.set_pool(vectors))
    scored = asyncio.run(model.backend.scorer.scored(vectors, labels))
    assert scored.vote is not None and (scored.vote < 1).any()  # the stored tickets do vote
    want = confidences(scored.z, 1.0, 2.0) * scored.vote
    got = asyncio.run(model.assign(texts, vectors, top_k=1))
    names = [x.label for x in labels]
    for row, w in zip(got, want, strict=True):
        assert not row or np.isclose(row[0].confidence, w[names.index(row[0].label)], atol=1e-5)
    assert sum(bool(row) for row in got) > len(texts) / 2
    plain = confidences(scored.z, 1.0, 2.0)
    moved = [abs(row[0].confidence - p[names.index(row[0].label)]) for row, p in zip(got, plain, strict=True) if row]
    assert max(moved) > 1e-3  # and it is not the plain softmax: the vote is applied
