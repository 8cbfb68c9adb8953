"""Terminal output of the client commands: rich tables, and a sparkline for trend series."""

from __future__ import annotations

from typing import Any

from rich.table import Table

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """Counts as block characters, scaled to the largest (eight lines of code: no library needed)."""
    if not counts:
        return ""
    top = max(counts)
    if top <= 0:
        return BLOCKS[0] * len(counts)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, round(c / top * (len(BLOCKS) - 1)))] for c in counts)


def _topics(topics: list[dict]) -> str:
    return ", ".join(f"{t['label']} {t['score']:.2f}" for t in topics)


def search_table(resp: dict) -> Table:
    table = Table(title=f"{len(resp['results'])} results ({resp['model']})", title_justify="left")
    columns: list[tuple[str, dict[str, Any]]] = [("#", {"justify": "right"}), ("score", {"justify": "right"})]
    for name, opts in [*columns, ("id", {}), ("time", {})]:
        table.add_column(name, no_wrap=True, **opts)
    table.add_column("topics")
    table.add_column("text", overflow="fold", ratio=1)
    for n, hit in enumerate(resp["results"], 1):
        text = hit["text"] if len(hit["text"]) <= 160 else hit["text"][:157] + "..."
        table.add_row(str(n), f"{hit['score']:.3f}", hit["id"], hit["timestamp"][:19], _topics(hit["topics"]), text)
    return table


def trends_table(resp: dict, *, show_all: bool = False, spark: bool = True) -> Table:
    trending = {t["topic"] for t in resp["trending"]}
    rows = resp["topics"] if show_all else resp["trending"]
    title = f"trending topics: window {resp['window']}, baseline {resp['baseline']}, bin {resp['bin']}"
    table = Table(title=title, title_justify="left")
    table.add_column("topic", no_wrap=True)
    for name in ("score", "recent", "baseline", "expected", "lift"):
        table.add_column(name, justify="right")
    if spark:
        table.add_column("series", no_wrap=True)
    table.add_column("", no_wrap=True)
    for t in rows:
        flags = " ".join(f for f, on in (("trending", t["topic"] in trending), ("candidate", t["candidate"])) if on)
        name = t.get("name") or t["topic"]
        cells = [name, f"{t['score']:.2f}", str(t["recent_count"]), str(t["baseline_count"])]
        cells += [f"{t['expected_count']:.1f}", f"{t['lift']:.2f}"]
        if spark:
            cells.append(sparkline([p["count"] for p in t.get("series", [])]))
        table.add_row(*cells, flags, style="bold" if t["topic"] in trending else None)
    return table


def topics_table(texts: list[str], resp: dict) -> Table:
    table = Table(title=f"topics ({resp['backend']}, taxonomy {resp['taxonomy']})", title_justify="left")
    table.add_column("text", overflow="fold", ratio=1)
    table.add_column("topics")
    table.add_column("candidates")
    for text, result in zip(texts, resp["results"], strict=True):
        table.add_row(text, _topics(result["topics"]) or "-", _topics(result.get("candidates", [])))
    return table
