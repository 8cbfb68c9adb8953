"""The decision rule: calibrated confidences, the same ranking, nothing for off-topic texts, and
responses that say which rule kept the topics. Real model, in-process API."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.app import serve
from tests.support.models import assign, embedder
from topicserve.topics import TopicsConfig
from topicserve.topics.refine import Refinement
from topicserve.topics.rules import confidences, decisive, keep, on_topic

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


def test_a_later_topic_is_kept_only_when_it_beats_none_of_these():
    # without a vote, c_j / (c_j + P(none)) >= 0.5 is z_j >= none_score: 1.9 is below "none" (2), 3.7 above
    z = np.array([[2.5, 1.9, -5.0], [4.0, 3.7, 0.0], [4.0, 3.8, 3.6]])
    c = confidences(z, temperature=1.0, none_score=2.0)
    assert c[0, 1] >= 0.2 and decisive(c, z, 0.6, 1.0, 2.0).all()  # the min and the margin would keep it
    assert keep(z, c, "confidence", 3, None, 0.2) == [[0, 1], [0, 1], [0, 1, 2]]
    assert keep(z, c, "confidence", 3, None, 0.2, second=0.5) == [[0], [0, 1], [0, 1, 2]]
    assert on_topic(c, 0.0).all() and not on_topic(c, 1.0).any()  # 1: only with no "none" mass at all
    assert keep(z, c, "confidence", 1, None, 0.2, second=1.0) == [[0], [0], [0]]  # the first topic: never


def split_store(agreement_: float) -> Refinement:
    """5 stored documents along e0 (best label 0), 5 along e1 (best label 1), one along e2 (far)."""
    pool = np.eye(3, dtype=np.float32)[[0] * 5 + [1] * 5 + [2]]
    near_z = np.array([[3.0, 0.0]] * 5 + [[0.0, 3.0]] * 5 + [[0.0, 0.0]], np.float32)
    return Refinement(
        pool.mean(0), np.zeros((2, 3), np.float32), 0.4, np.zeros(2), np.ones(2), (0, 0), 11,
        gate_low=-1.0, gate_high=-0.9, neighbours=pool, k=10, neighbour_z=near_z,
        neighbour_weight=0.7 * agreement_, agreement=agreement_,
    )  # fmt: skip


def test_a_store_whose_neighbours_split_between_two_labels_keeps_only_the_first():
    """A text between two labels, each strong (a second topic without a store), whose 10 nearest
    stored documents split 5/5 between them: where stored neighbours share labels (agreement 0.85,
    AG News) the vote takes their mass to "none" and the second topic goes; where they rarely do
    (0.2, a small multi-label store) both stay."""
    text, z = np.array([[0.6, 0.8, 0.0]], np.float32), np.array([[4.0, 3.7]])
    plain = confidences(z, 1.0, 2.0)
    got = {}
    for agreed in (0.85, 0.2):
        vote = split_store(agreed).apply_with_vote(text, np.zeros((1, 2)), np.zeros(2), np.ones(2))[3]
        assert vote is not None and np.allclose(vote, 1 - agreed / 2)  # shares 0.5 / 0.5, gate 1
        conf = plain * vote
        got[agreed] = keep(z, conf, "confidence", 2, None, 0.2, decisive(conf, z, 0.6, 1.0, 2.0), second=0.5)
    assert got == {0.85: [[0]], 0.2: [[0, 1]]}
    assert keep(z, plain, "confidence", 2, None, 0.2, second=0.5) == [[0, 1]]  # no store: both


def test_default_rule_gives_confidences_and_ranks_like_the_scores():
    result = assign(TopicsConfig(), ON_TOPIC)
    assert result.rule == "confidence(T=1,none=2,min=0.2,margin=0.6,second=0.5)"
    assert assign(TopicsConfig(margin=0, second=0), ON_TOPIC[:1]).rule == "confidence(T=1,none=2,min=0.2)"
    assert assign(TopicsConfig(margin=0), ON_TOPIC[:1]).rule == "confidence(T=1,none=2,min=0.2,second=0.5)"
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
        # the second-topic test per call: the rule that kept the topics says which one ran
        assert body["rule"].endswith(",second=0.5)")
        plain = http.post("/topics", json={"texts": [ON_TOPIC[0]], "second": 0.0}).json()
        assert plain["rule"] == "confidence(T=1,none=2,min=0.2,margin=0.6)"
        bad = http.post("/topics", json={"texts": ["x"], "min_confidence": 2})
        assert bad.status_code == 422 and bad.json()["error"]["field"].endswith("min_confidence")
