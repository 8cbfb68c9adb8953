"""The bench's texts: AG News cut to about one sentence (../shared/data/ag_news_test.jsonl)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AG_NEWS = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"
DEV_ROWS = 2000  # rows 0-1999: the dev part (choose recipes here); rows 2000+: the test part


def ag_news_rows() -> list[dict]:
    if not AG_NEWS.exists():
        raise SystemExit(
            f"{AG_NEWS} not found: the bench needs the AG News test set there "
            "(one JSON object a line with 'text' and 'label')."
        )
    return [json.loads(line) for line in AG_NEWS.read_text().splitlines() if line.strip()]


def first_sentence(text: str, max_chars: int = 200) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0][:max_chars]


def short_texts(n: int, part: str = "all") -> list[str]:
    """``n`` AG News texts cut to their first sentence; repeated if ``n`` exceeds the part."""
    rows = ag_news_rows()
    rows = rows[:DEV_ROWS] if part == "dev" else rows[DEV_ROWS:] if part == "test" else rows
    texts = [first_sentence(r["text"]) for r in rows]
    return (texts * (n // len(texts) + 1))[:n]
