"""Render evaluation reports (one configuration, or two side by side) as Markdown or HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence

from topicserve.evaluation.metrics import EvalReport

METRICS = [
    ("best_match_precision", "best-match cosine precision"),
    ("best_match_recall", "best-match cosine recall"),
    ("best_match_f1", "best-match cosine F1"),
    ("exact_precision", "exact-match precision"),
    ("exact_recall", "exact-match recall"),
    ("exact_f1", "exact-match F1"),
    ("accuracy", "accuracy (top topic is a human topic)"),
    ("no_topic_rate", "items with no topic"),
]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _topics(topics) -> str:
    return ", ".join(f"{t.label} ({t.score:.2f})" for t in topics) or "—"


def _short(text: str, n: int = 90) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def tables(reports: Sequence[EvalReport]) -> tuple[list[list[str]], list[list[str]]]:
    """(metrics rows, vibe-check rows); the first row of each is the header."""
    names = [r.name for r in reports]
    metrics = [["metric", *names]]
    for key, title in METRICS:
        metrics.append([title, *(_num(getattr(r.metrics, key)) for r in reports)])
    if len(reports) == 2:
        metrics[0].append("Δ")
        for row, (key, _) in zip(metrics[1:], METRICS, strict=True):
            a, b = (getattr(r.metrics, key) for r in reports)
            row.append("–" if a is None or b is None else f"{b - a:+.3f}")
    vibe = [["#", "text", "human topics", *(f"model: {n}" for n in names), *(f"F1 {n}" for n in names)]]
    for i, rows in enumerate(zip(*(r.items for r in reports), strict=True), 1):
        first = rows[0]
        vibe.append(
            [
                str(i),
                _short(first.text),
                ", ".join(first.human_topics),
                *(_topics(x.model_topics) for x in rows),
                *(f"{x.f1:.2f}" for x in rows),
            ]
        )
    return metrics, vibe


def _md_table(rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in row] for row in rows]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(esc[0])]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


def _configs(reports: Sequence[EvalReport]) -> list[str]:
    out = []
    for r in reports:
        cfg = r.config
        desc = ", ".join(
            f"{k}={cfg[k]}" for k in ("backend", "prompt", "taxonomy", "rule", "threshold", "top_k") if k in cfg
        )
        out.append(f"{r.name}: {desc}" + (f" — DEGRADED: {r.fallback_reason}" if r.degraded else ""))
    return out


def to_markdown(reports: Sequence[EvalReport], title: str = "Topic evaluation") -> str:
    metrics, vibe = tables(reports)
    parts = [f"# {title}", "", *(f"- {c}" for c in _configs(reports)), "", "## Metrics", "", _md_table(metrics)]
    parts += ["", "## Vibe check", "", _md_table(vibe), ""]
    return "\n".join(parts)


def to_html(reports: Sequence[EvalReport], title: str = "Topic evaluation") -> str:
    def table(rows: list[list[str]]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    metrics, vibe = tables(reports)
    configs = "".join(f"<li>{html.escape(c)}</li>" for c in _configs(reports))
    style = "table{border-collapse:collapse;font:13px sans-serif}td,th{border:1px solid #ccc;padding:3px 6px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1><ul>{configs}</ul>"
        f"<h2>Metrics</h2>{table(metrics)}<h2>Vibe check</h2>{table(vibe)}</body></html>\n"
    )
