"""The decision rule: calibrated confidences, the same ranking, nothing for off-topic texts, and
responses that say which rule kept the topics. Real model, in-process API."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.app import serve
from tests.support.models import assign, embedder
from topicserve.topics import TopicsConfig
from topicserve.topics.rules import confidences, decisive, keep

ON_TOPIC = [
    "Conservators cleaned the bronze bust and removed the old wax from its surface.",
    "The museum raised its ticket prices and shortened its opening hours for next year.",
    "The photographer printed the negatives herself in a darkroom in the basement.",
]
OFF_TOPIC = [
    "My flight to Denver was delayed by snow, so I missed the connection and slept at the airport.",
    "The striker scored twice in the second half and his team won the cup final.",
]


def test_confidences_are_a_softmax_with_a_none_option():
    z = np.array([[6.0, 1.0, 0.0], [0.0, 0.1, -0.2], [3.0, 3.0, 0.0]])
    c = confidences(z, temperature=1.0, none_score=2.0)
    assert ((c >= 0) & (c <= 1)).all() and (c.sum(axis=1) < 1).all()
    assert c[0, 0] > 0.9  # far above the background on one label
    assert c[1].max() < 0.2  # at the background everywhere: "none of these" keeps the mass
    assert c[2, 0] == pytest.approx(c[2, 1]) and c[2, 0] < 0.5  # two equal labels split it
    assert keep(z, c, "confidence", 2, None, 0.2) == [[0], [], [0, 1]]
    assert keep(z, c, "threshold", 2, 2.5, 0.2) == [[0], [], [0, 1]]


def test_the_margin_keeps_a_text_torn_between_two_labels_only_when_both_are_on_topic():
    z = np.array([[1.5, 1.4, -1.0], [4.0, 3.9, 0.0], [4.0, 1.0, 0.0], [1.5, -1.0, -1.0]])
    c = confidences(z, temperature=1.0, none_score=2.0)
    assert keep(z, c, "confidence", 2, None, 0.2) == [[0, 1], [0, 1], [0], [0]]  # no margin test
    decided = decisive(c, z, 0.6, 1.0, 2.0)
    # torn between two weak labels: nothing; two strong ones (multi-label): both; a clear first: it
    assert decided.tolist() == [False, True, True, True]
    assert keep(z, c, "confidence", 2, None, 0.2, decided) == [[], [0, 1], [0], [0]]
    assert decisive(c, z, 0.0, 1.0, 2.0).all() and decisive(c[:, :1], z[:, :1], 0.6, 1.0, 2.0).all()
    assert not decisive(c, z, 1.0, 1.0, 2.0)[:2].any()  # margin 1: no runner-up is ever beaten "surely"


def test_default_rule_gives_confidences_and_ranks_like_the_scores():
    result = assign(TopicsConfig(), ON_TOPIC)
    assert result.rule == "confidence(T=1,none=2,min=0.2,margin=0.6)"
    assert assign(TopicsConfig(margin=0), ON_TOPIC[:1]).rule == "confidence(T=1,none=2,min=0.2)"
    tops = [r.topics[0].label for r in result.results]
    assert tops == ["conservation", "museum operations", "photography"]
    for r in result.results:
        assert all(0.0 <= t.confidence <= 1.0 for t in r.topics)
        assert [t.score for t in r.topics] == sorted((t.score for t in r.topics), reverse=True)
        assert [t.confidence for t in r.topics] == sorted((t.confidence for t in r.topics), reverse=True)
    # the first rule (one mean vector, threshold 0.2 on the reference-calibrated cosine) ranks the same
    first = assign(TopicsConfig(rule="threshold", pooling="mean", calibration="reference"), ON_TOPIC)
    assert [r.topics[0].label for r in first.results] == tops
    assert first.rule == "threshold(score>=0.2)"


def test_off_topic_texts_get_nothing_with_any_label_set():
    assert [r.topics for r in assign(TopicsConfig(), OFF_TOPIC[:1]).results] == [[]]
    kitchen = [{"label": "cooking", "description": "Recipes, ingredients, baking and kitchen tools."}]
    got = assign(TopicsConfig(taxonomy=kitchen), [*OFF_TOPIC, "Whisk the eggs with the flour and bake for an hour."])
    assert [[t.label for t in r.topics] for r in got.results] == [[], [], ["cooking"]]


def test_topics_endpoint_reports_rule_and_confidence(tmp_path):
    with serve(tmp_path / "store", embedder()) as (_, http):
        body = http.post("/topics", json={"texts": [ON_TOPIC[0], OFF_TOPIC[0]]}).json()
        assert body["rule"].startswith("confidence(") and body["calibration"] == "zscore"
        top = body["results"][0]["topics"][0]
        assert top["label"] == "conservation" and 0.5 < top["confidence"] <= 1.0 and "score" in top
        assert body["results"][1]["topics"] == []
        forced = http.post(
            "/topics", json={"texts": [OFF_TOPIC[0]], "top_k": 1, "min_confidence": 0.0, "margin": 0.0}
        ).json()
        assert len(forced["results"][0]["topics"]) == 1 and forced["results"][0]["topics"][0]["confidence"] < 0.2
        bad = http.post("/topics", json={"texts": ["x"], "min_confidence": 2})
        assert bad.status_code == 422 and bad.json()["error"]["field"].endswith("min_confidence")
