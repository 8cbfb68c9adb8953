"""Labels out of an LLM reply: a JSON list, found wherever it is in the text.

Models wrap answers in code fences, prefix them with chatter ("Sure! Here are the topics:") or
return objects instead of strings. The parser accepts, in order of preference: the first JSON
array of strings (or of objects with a "label"/"topic"/"name" key), an object holding such an
array under "topics"/"labels", and as a last resort a bulleted or numbered list. Anything else
is an `LLMError`, which makes the caller fall back to the taxonomy backend.

``parse_object`` finds the first JSON object in a reply the same way (fences and chatter are fine):
the label expansion's replies (topics/expand.py).
"""

from __future__ import annotations

import json
import re

from topicserve.llm.base import LLMError

MAX_LABEL_CHARS = 80
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$")
_KEYS = ("label", "topic", "name")
_LIST_KEYS = ("topics", "labels", "categories")


def _as_labels(value: object) -> list[str] | None:
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return _as_labels(value[key])
        return None
    if not isinstance(value, list):
        return None
    labels = []
    for item in value:
        if isinstance(item, dict):
            item = next((item[k] for k in _KEYS if isinstance(item.get(k), str)), None)
        if isinstance(item, str):
            labels.append(item)
    return labels if labels or not value else None


def _clean(labels: list[str], limit: int) -> list[str]:
    out: dict[str, str] = {}
    for raw in labels:
        label = " ".join(raw.strip().strip("\"'`.").split())
        if label and len(label) <= MAX_LABEL_CHARS:
            out.setdefault(label.lower(), label)
    return list(out.values())[:limit]


def parse_labels(reply: str, limit: int = 20) -> list[str]:
    """The labels in ``reply``, deduplicated (case-insensitively), in the model's order."""
    text = _FENCE.sub("", reply or "")
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char not in "[{":
            continue
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        labels = _as_labels(value)
        if labels is not None:
            return _clean(labels, limit)
    bullets = [m.group(1) for m in map(_BULLET.match, text.splitlines()) if m]
    if bullets:
        return _clean(bullets, limit)
    preview = " ".join(text.split())[:120]
    raise LLMError(f"LLM reply holds no JSON list of labels: {preview!r}")


def parse_object(reply: str) -> dict:
    """The first JSON object anywhere in ``reply``; an `LLMError` when there is none."""
    text = _FENCE.sub("", reply or "")
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char != "{":
            continue
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    preview = " ".join(text.split())[:120]
    raise LLMError(f"LLM reply holds no JSON object: {preview!r}")
