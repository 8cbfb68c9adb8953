"""Evaluation: metrics, the art demo set as a regression gate, the CLI and the /evaluate endpoint."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import yaml

from tests.support.app import serve
from tests.support.models import embed, embedder
from topicserve.errors import InvalidInput
from topicserve.evaluation import EvalItem, best_match, load_items, run_evaluation, score_items
from topicserve.settings import default_taxonomy_path
from topicserve.topics import Assignment, TextTopics, TopicModel, TopicsConfig, TopicScore

DEMO = default_taxonomy_path().parent / "eval_demo.jsonl"


def test_best_match_and_exact_metrics_on_known_vectors():
    e = np.eye(3, dtype=np.float32)
    vectors = {"a": e[0], "b": e[1], "c": e[2]}
    items = [EvalItem(text="x", human_topics=["a", "b"]), EvalItem(text="y", label="c"), EvalItem(text="z", label="a")]
    assignment = Assignment(
        backend="test",
        results=[
            TextTopics(topics=[TopicScore(label="a", score=0.9), TopicScore(label="c", score=0.5)]),
            TextTopics(topics=[TopicScore(label="c", score=0.8)]),
            TextTopics(topics=[]),
        ],
    )
    rows, m = score_items(items, assignment, vectors, ["a", "b", "c"])
    assert [r.f1 for r in rows] == pytest.approx([0.5, 1.0, 0.0])
    assert (rows[0].precision, rows[0].recall) == pytest.approx((0.5, 0.5))
    assert m.exact_items == 3
    assert m.exact_precision == pytest.approx(2 / 3) and m.exact_recall == pytest.approx(2 / 4)
    assert m.accuracy == pytest.approx(2 / 3) and m.no_topic_rate == pytest.approx(1 / 3)
    # labels outside the taxonomy: no exact metrics, best-match still works
    first = assignment.model_copy(update={"results": assignment.results[:1]})
    _, m2 = score_items(items[:1], first, vectors, ["z"])
    assert m2.exact_items == 0 and m2.accuracy is None and m2.best_match_f1 == pytest.approx(0.5)
    assert best_match(e[:1], e[:0])["f1"] == 0.0


def test_items_need_topics(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no topics here"}\n')
    with pytest.raises(InvalidInput, match=r"bad\.jsonl:1"):
        load_items(bad)
    assert EvalItem(text="t", label="x", human_topics=["y"]).human_topics == ["y", "x"]


DEV = slice(0, 20)  # the art set's dev half: rows 0-19 (the test half, 20-39, is only reported)


def evaluate_demo(config: TopicsConfig, rows: slice = DEV):
    items = load_items(DEMO)[rows]

    async def run():
        model = TopicModel(embed, config)
        vectors = await embed([i.text for i in items])
        return await run_evaluation(items, vectors, model.assign_detailed, embed, model.taxonomy.labels)

    return asyncio.run(run())


def test_demo_set_regression_gate():
    """The default configuration on the DEV half of the hand-labelled art set (rows 0-19; rows 20-39
    are the test half, only reported in docs/quality.md). Measured on dev when the defaults were
    chosen: accuracy 0.85, exact F1 0.75, best-match F1 0.84. The gates sit about two items lower,
    so they are not the reported numbers; the first representation (one description, one mean
    vector, threshold 0.15, top 3: exact F1 0.55 on dev) fails them."""
    items = load_items(DEMO)
    assert len(items) == 40
    m = evaluate_demo(TopicsConfig(), DEV).metrics
    assert m.exact_items == 20
    assert m.accuracy >= 0.75, m
    assert m.exact_f1 >= 0.65, m
    assert m.best_match_f1 >= 0.78, m
    assert m.no_topic_rate <= 0.1, m


def test_the_gate_catches_a_weaker_label_representation():
    data = yaml.safe_load(default_taxonomy_path().read_text())
    topics = [{"label": t["label"], "description": t["description"]} for t in data["topics"]]
    first = TopicsConfig(taxonomy=topics, rule="threshold", pooling="mean", calibration="none", threshold=0.15, top_k=3)
    weaker = evaluate_demo(first, DEV).metrics
    assert weaker.accuracy < 0.75 or weaker.exact_f1 < 0.65


def test_cli_compares_two_configs_and_writes_reports(tmp_path, capsys, monkeypatch):
    from topicserve.cli import main
    from topicserve.evaluation import cli as evaluate_cli

    monkeypatch.setattr(evaluate_cli, "_default_embedder", embedder)
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(DEMO.read_text().splitlines()[:6]) + "\n")
    against = tmp_path / "against.yaml"
    against.write_text(yaml.safe_dump({"user_config": {"calibration": "none", "threshold": 0.9, "top_k": 1}}))
    # threshold 0.9 on the pooled cosine: no text reaches it, under either rule
    out = tmp_path / "report.html"
    assert main(["evaluate", str(small), "--against", str(against), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| metric | current | against | Δ |" in text and "## Vibe check" in text
    assert "| items with no topic | 0.000 | 1.000 | +1.000 |" in text  # threshold 0.9: nothing passes
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and "Sienese" in html
    labels = tmp_path / "tax.yaml"
    labels.write_text(yaml.safe_dump({"name": "tiny", "topics": [{"label": "painting"}, {"label": "weather"}]}))
    md = tmp_path / "r.md"
    assert main(["evaluate", str(small), "--labels", str(labels), "--out", str(md)]) == 0
    assert "taxonomy=tiny" in md.read_text()


def test_evaluate_endpoint(tmp_path):
    items = [
        {
            "text": "Conservators cleaned the bronze bust and removed old wax.",
            "human_topics": ["conservation", "sculpture"],
        },
        {"text": "The museum raised its ticket prices for next year.", "label": "museum operations"},
    ]
    against = {"labels": [{"label": "painting"}, {"label": "museum operations"}], "min_confidence": 0.0}
    with serve(tmp_path / "store", embedder()) as (_, http):
        body = http.post("/evaluate", json={"items": items, "against": against}).json()
        assert {"items", "mean_best_match_cosine", "mean_f1", "metrics", "table", "against"} <= set(body)
        assert body["items"][1]["model_topics"][0]["label"] == "museum operations"
        assert body["metrics"]["accuracy"] == 1.0 and body["metrics"]["exact_items"] == 2
        assert body["against"]["metrics"]["exact_items"] == 1  # "conservation"/"sculpture" are not in it
        assert "| metric | current | against | Δ |" in body["table"]
        assert http.post("/evaluate", json={"items": [{"text": "no topics"}]}).status_code == 422
