"""Parsing LLM replies and loading the versioned prompt templates."""

from __future__ import annotations

import pytest

from topicserve.errors import InvalidInput
from topicserve.llm.base import LLMError
from topicserve.llm.parsing import parse_labels
from topicserve.llm.prompts import PROMPT_DIR, load_prompt, parse_prompt


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('["painting", "patronage"]', ["painting", "patronage"]),
        (
            'Sure! Here are the topics:\n```json\n["Painting", "conservation"]\n```\nHope this helps.',
            ["Painting", "conservation"],
        ),
        ('{"topics": ["sculpture"]}', ["sculpture"]),
        ('[{"label": "architecture", "score": 0.9}, {"topic": "painting"}]', ["architecture", "painting"]),
        ('Topics [1] are: ["exhibitions"]', ["exhibitions"]),  # a non-label list before the real one
        ('["painting", "Painting", " painting. ", ""]', ["painting"]),  # deduplicated case-insensitively
        ("The topics are:\n- painting\n- patronage\n", ["painting", "patronage"]),
        ("[]", []),
    ],
)
def test_parse_labels_is_tolerant(reply, expected):
    assert parse_labels(reply) == expected


@pytest.mark.parametrize("reply", ["", "I cannot help with that.", '["unterminated', '{"answer": 42}'])
def test_parse_labels_rejects_replies_without_labels(reply):
    with pytest.raises(LLMError):
        parse_labels(reply)


def test_parse_labels_limits_count_and_length():
    assert parse_labels('["a1", "a2", "a3", "a4"]', limit=2) == ["a1", "a2"]
    assert parse_labels('["' + "x" * 500 + '", "ok"]') == ["ok"]


def test_every_shipped_prompt_loads_and_fills():
    names = sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))
    assert "topics-v1" in names and "cluster-label-v1" in names
    topics = load_prompt("topics-v1")
    messages = topics.messages(labels="- painting", text="A portrait.", top_k=2)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "A portrait." in messages[1]["content"] and "- painting" in messages[1]["content"]
    assert "$" not in messages[1]["content"]
    load_prompt("cluster-label-v1").messages(keywords="a, b", examples="- x")


def test_prompt_names_are_checked():
    with pytest.raises(InvalidInput, match="look like"):
        load_prompt("../../etc/passwd")
    with pytest.raises(InvalidInput, match="available"):
        load_prompt("topics-v99")
    with pytest.raises(InvalidInput, match=r"\[user\]"):
        parse_prompt("x-v1", "[system]\nonly a system part")
