"""The refinement's cross-domain and off-topic checks (dev only), with the shipped code.

    python bench/refine_guards.py [--no-refine] [--no-neighbours] [--gate-pool N] [--neighbour-weight W]
    python bench/refine_guards.py --cost [--sizes 4096,5000,8192,10000,20000] [--rounds 3]

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
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ag_news import DEFAULT_DATA, TAXONOMY, one_line  # noqa: E402
from bench.vector_cache import cached_vectors  # noqa: E402
from topicserve.taxonomy import Label  # noqa: E402
from topicserve.topics import TopicModel, TopicsConfig  # noqa: E402
from topicserve.topics.refine import NeighbourGraph, Refinement, RefineParams, estimate  # noqa: E402

TICKETS = ROOT / "bench" / "data" / "support_tickets.jsonl"
ART = ROOT / "topicserve" / "data" / "eval_demo.jsonl"


PARAMS = RefineParams()


def set_params(gate_pool: int | None, neighbour_weight: float | None) -> None:
    """Refinement knobs other than the shipped ones, for exploration (dev only)."""
    global PARAMS
    update = {"gate_pool": gate_pool, "neighbour_weight": neighbour_weight}
    PARAMS = RefineParams(**{**PARAMS.model_dump(), **{k: v for k, v in update.items() if v is not None}})


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
    model.refiner.params = PARAMS
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


def synthetic_refinement(m: int, labels: int = 4, dim: int = 384, seed: int = 0) -> Refinement:
    """A refinement against ``m`` random unit neighbours: the arithmetic and the sizes of the real one."""
    rng = np.random.default_rng(seed)
    unit = lambda a: (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return Refinement(
        np.zeros(dim, np.float32), unit(rng.standard_normal((labels, dim))), 0.4, np.zeros(labels),
        np.ones(labels), (10,) * labels, m, gate_low=0.0, gate_high=0.1,
        neighbours=unit(rng.standard_normal((m, dim))), k=10,
        neighbour_z=rng.standard_normal((m, labels)).astype(np.float32), neighbour_weight=0.6, agreement=0.85,
    )  # fmt: skip


def timed_ms(call, reps: int) -> tuple[float, float]:
    """(median, fastest) of ``reps`` calls, in ms: on 2 shared cores the fastest is the call's own
    cost, the median what it costs under the load of the moment."""
    call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), 1e3 * min(times)


def cost(sizes: list[int], rounds: int, graph_sizes: list[int]) -> None:
    """The per-call cost of the gate + smoothing + vote (`Refinement.apply_with_vote`) against ``m``
    neighbours, a batch of 64 texts and one text, interleaved over the sizes (median / fastest of 15
    calls); then the per-pool `NeighbourGraph` (the neighbours' own nearest neighbours)."""
    refinements = {m: synthetic_refinement(m) for m in sizes}
    rng = np.random.default_rng(1)
    for n in (64, 1):
        texts = rng.standard_normal((n, 384)).astype(np.float32)
        texts /= np.linalg.norm(texts, axis=1, keepdims=True)
        base = rng.standard_normal((n, 4))
        for r in range(rounds):
            row = {m: timed_ms(lambda x=x, t=texts, b=base: x.apply_with_vote(t, b, np.zeros(4), np.ones(4)), 15)
                   for m, x in refinements.items()}  # fmt: skip
            cells = ", ".join(f"m={m}: {med:.2f} / {low:.2f}" for m, (med, low) in row.items())
            print(f"{n} text(s), round {r}, ms median / fastest: {cells}; {uptime()}", flush=True)
    for m in graph_sizes:
        pool = refinements[m].neighbours if m in refinements else synthetic_refinement(m).neighbours
        params = RefineParams(gate_pool=m, min_confidence=0.0, min_support=1)
        start = time.perf_counter()
        graph = NeighbourGraph.of(pool, params)
        built = time.perf_counter() - start
        labels = refinements[m].centroids if m in refinements else synthetic_refinement(m).centroids
        score = lambda v, w=labels: np.asarray(v, np.float32) @ w.T  # noqa: E731  (a cheap stand-in for the prototypes)
        background = pool[:64]
        start = time.perf_counter()
        estimate(pool, score, background, params, graph)
        shared = time.perf_counter() - start
        print(f"m={m}: neighbour graph {built:.2f} s (once per pool), then an estimate per label set "
              f"{1e3 * shared:.0f} ms; {uptime()}", flush=True)  # fmt: skip


def uptime() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-refine", action="store_true", help="refine_from_store false (the baseline)")
    parser.add_argument("--no-neighbours", action="store_true", help="refine_neighbours false (centroids only)")
    parser.add_argument("--cost", action="store_true", help="only the per-call cost against m neighbours")
    parser.add_argument("--sizes", default="4096,5000,8192,10000,20000", help="--cost: neighbour counts")
    parser.add_argument("--graph-sizes", default="4096,8192,20000", help="--cost: neighbour graphs to time")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gate-pool", type=int, help="RefineParams.gate_pool (default: the shipped one)")
    parser.add_argument("--neighbour-weight", type=float, help="RefineParams.neighbour_weight (default: shipped)")
    args = parser.parse_args(argv)
    if args.cost:
        ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
        cost(ints(args.sizes), args.rounds, ints(args.graph_sizes))
        return 0
    set_params(args.gate_pool, args.neighbour_weight)
    asyncio.run(run(not args.no_refine, not args.no_neighbours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
