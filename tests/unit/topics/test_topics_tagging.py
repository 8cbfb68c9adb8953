"""What the store keeps (topicserve/tagging.py): topics and the nearest label come from one scoring,
so the nearest label carries the same refinement (and feedback) as the topics. Real model, real texts."""

from __future__ import annotations

import asyncio

from tests.support.models import embed, embed_sync
from tests.unit.topics.test_topics_refine import SMALL, tickets
from topicserve.tagging import tag
from topicserve.topics import TopicModel, TopicsConfig


def test_nearest_label_is_scored_like_the_topics_under_a_refinement():
    texts, _, labels = tickets()
    vectors = embed_sync(texts)

    async def run(refine: bool):
        model = TopicModel(embed, TopicsConfig(taxonomy=labels, refine_from_store=refine))
        model.refiner.params = SMALL
        await model.set_pool(vectors)
        return await tag(model, texts, vectors)

    refined, plain = asyncio.run(run(True)), asyncio.run(run(False))
    assert refined.version != plain.version  # the refinement is part of the version
    pairs = [(t[0], n) for t, n in zip(refined.topics, refined.nearest, strict=True) if t]
    assert len(pairs) >= 0.9 * len(texts)
    # the nearest label is the best *refined* score: the topics' own first score (z calibration)
    assert all(n is not None and n.label == t.label and n.score == t.score for t, n in pairs)
    # ... which is not what the unrefined prototypes give (the fresh scorer this replaced)
    assert [n.score for n in refined.nearest] != [n.score for n in plain.nearest]
    assert all(n is not None and t[0].score == n.score for t, n in zip(plain.topics, plain.nearest, strict=True) if t)
