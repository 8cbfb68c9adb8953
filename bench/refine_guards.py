"""The refinement's cross-domain and off-topic checks (dev only), with the shipped code.

    python bench/refine_guards.py [--no-refine] [--no-neighbours]

The store is stood in for by a pool of AG News **dev** texts (rows 0-1999, no labels; `TopicModel`
with that pool, as the Topics replica holds one). Reported (docs/quality.md, "Session 4"):

- AG News dev with one-line labels: top-1 and tagged@precision; "held-out half": the pool is rows
  0-999 and rows 1000-1999 are scored (texts not in the pool, as newly posted documents are);
- off-topic texts under the AG News labels: the art dev half (rows 0-19 of the bundled art set), and
  all 40 art texts + the 80 support tickets: share tagged;
- the art taxonomy over the news pool: share of the news tagged with art topics;
- the support-ticket labels over the news pool: the tickets' top-1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ag_news import DEFAULT_DATA, TAXONOMY, one_line  # noqa: E402
from bench.vector_cache import cached_vectors  # noqa: E402
from topicserve.taxonomy import Label  # noqa: E402
from topicserve.topics import TopicModel, TopicsConfig  # noqa: E402

TICKETS = ROOT / "bench" / "data" / "support_tickets.jsonl"
ART = ROOT / "topicserve" / "data" / "eval_demo.jsonl"


def rows(path: Path) -> list[dict]:
    if not path.exists():
        sys.exit(f"{path} not found (AG News: ../shared/data/ag_news_test.jsonl beside the repo)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def labels(path: Path) -> list[Label]:
    return one_line([Label.model_validate(t) for t in yaml.safe_load(path.read_text())["topics"]])


async def topics(embed, labels_, pool, vectors, refine: bool, smooth: bool = True) -> tuple[list[str], list[list[str]]]:
    """(top-1 label, kept labels) per vector, with ``pool`` as the store's documents."""
    config = TopicsConfig(taxonomy=labels_, refine_from_store=refine, refine_neighbours=smooth)
    model = TopicModel(embed, config)
    model.refiner.set_pool(pool)
    top1 = await model.overridden({"top_k": 1, "min_confidence": 0.0, "margin": 0.0, "threshold": -100.0}).assign(
        [""] * len(vectors), vectors
    )
    kept = await model.assign([""] * len(vectors), vectors)
    return [t[0].label if t else "" for t in top1], [[x.label for x in t] for t in kept]


def accuracy(pred: list[str], gold: list[str]) -> float:
    return float(np.mean([p == g for p, g in zip(pred, gold, strict=True)]))


def tagged(kept: list[list[str]], gold: list[str] | None = None) -> str:
    share = np.mean([bool(k) for k in kept])
    if gold is None:
        return f"{share:.3f}"
    given = sum(len(k) for k in kept)
    return f"{share:.3f}@{sum(g in k for g, k in zip(gold, kept, strict=True)) / max(given, 1):.3f}"


async def run(refine: bool, smooth: bool = True) -> None:
    from topicserve.embedding import Embedder
    from topicserve.settings import get_settings

    embedder = Embedder(get_settings().embedding_model, get_settings().embedding_device)

    async def embed(texts: list[str]):
        return await asyncio.to_thread(embedder.embed, texts)

    ag, tickets, art = rows(DEFAULT_DATA), rows(TICKETS), rows(ART)
    vec = lambda rs: cached_vectors([r["text"] for r in rs], embedder)  # noqa: E731
    news, tv, av = vec(ag)[:2000], vec(tickets), vec(art)
    gold = [r["label"] for r in ag[:2000]]
    ag_labels, art_labels = labels(TAXONOMY), TopicModel(embed, TopicsConfig()).taxonomy.topics
    top1, kept = await topics(embed, ag_labels, news, news, refine, smooth)
    print(f"AG News dev: top-1 {accuracy(top1, gold):.4f}, tagged {tagged(kept, gold)}")
    top1, _ = await topics(embed, ag_labels, news[:1000], news[1000:], refine, smooth)
    print(f"AG News dev, held-out half: top-1 {accuracy(top1, gold[1000:]):.4f}")
    _, kept = await topics(embed, ag_labels, news, av[:20], refine, smooth)
    _, kept_all = await topics(embed, ag_labels, news, np.concatenate([av, tv]), refine, smooth)
    print(f"off-topic under AG News labels: art dev {tagged(kept)}, art + tickets {tagged(kept_all)}")
    _, kept = await topics(embed, art_labels, news, news, refine, smooth)
    print(f"art taxonomy over news: news tagged {tagged(kept)}")
    top1, _ = await topics(embed, labels(TICKETS.with_suffix(".yaml")), news, tv, refine, smooth)
    print(f"ticket labels over news: ticket top-1 {accuracy(top1, [r['label'] for r in tickets]):.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-refine", action="store_true", help="refine_from_store false (the baseline)")
    parser.add_argument("--no-neighbours", action="store_true", help="refine_neighbours false (centroids only)")
    args = parser.parse_args(argv)
    asyncio.run(run(not args.no_refine, not args.no_neighbours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
