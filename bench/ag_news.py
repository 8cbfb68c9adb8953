"""AG News zero-shot topics: the topic-quality benchmark (a benchmark, not a test).

    python bench/ag_news.py [PATH] --split dev|test [--labels one-line|full] [--url URL [--service-only]]
                            [--variants] [--limit N] [--data bench/data/support_tickets.jsonl]
                            [--pool split|none] [--ingest]

Splits: rows 0-1999 of ag_news_test.jsonl are **dev** (rules, temperatures, thresholds and label
texts were chosen there), rows 2000+ are **test** (only reported). Caller labels: by default the
four classes' one-line descriptions (label + `description` of bench/ag_news_taxonomy.yaml, written
from the class definitions); ``--labels full`` adds its paraphrases and examples. Settings: the
server's defaults. Reported:

- top-1 accuracy: one topic per text whatever its confidence (``top_k=1, min_confidence=0, margin=0``);
- share tagged: texts that got at least one topic with the default settings;
- precision: the share of the topics given (default settings) that are the gold label, and the
  share of tagged texts whose first topic is.

In-process by default (topicserve.inprocess: the same embedder and topic model the service runs, no
Ray); with ``--url`` through a running service's ``POST /topics`` (labels travel in the request).
``--data`` runs the same report on another ``{"text", "label"}`` set with the labels of its
``.yaml`` twin (bench/data/), all of it, no split. ``--variants`` reports label representations
and rules in-process.

Refinement (topicserve/topics/refine.py): the service refines its scores from the store's own
documents. In-process, ``--pool split`` (default) stands for a store holding the split's texts: their
vectors (no labels) are the pool; ``--pool none`` is an empty store. Through ``--url``, ``--ingest``
first stores the split's texts (``POST /documents``, ids ``agnews-<row>``) so the service refines
from them. Vectors are cached under build/vector-cache/ (bench/vector_cache.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.vector_cache import cached_vectors  # noqa: E402
from topicserve.taxonomy import Label  # noqa: E402
from topicserve.topics import TopicModel, TopicsConfig  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"
TAXONOMY = Path(__file__).with_name("ag_news_taxonomy.yaml")


DEV_ROWS = 2000


def load_rows(path: Path, split: str, limit: int, seed: int) -> list[dict]:
    if not path.exists():
        sys.exit(f"{path} not found: the AG News test file (7,600 rows of {{text, label}}) is needed here")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [{**r, "row": i} for i, r in enumerate(rows)]  # the row in the file: vectors are cached per file
    rows = {"dev": rows[:DEV_ROWS], "test": rows[DEV_ROWS:], "all": rows}[split]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def one_line(labels: list[Label]) -> list[Label]:
    return [Label(label=x.label, description=x.description) for x in labels]


def report(name: str, gold: list[str], top1: list[str], tagged: list[list[str]], seconds: float) -> dict:
    n = len(gold)
    acc = sum(g == p for g, p in zip(gold, top1, strict=True)) / n
    given = sum(len(t) for t in tagged)
    hits = sum(g in t for g, t in zip(gold, tagged, strict=True))
    n_tagged = sum(bool(t) for t in tagged)
    first = sum(bool(t) and t[0] == g for g, t in zip(gold, tagged, strict=True))
    out = {
        "name": name,
        "n": n,
        "top1_accuracy": acc,
        "tagged_share": n_tagged / n,
        "tag_precision": hits / given if given else 0.0,
        "first_tag_precision": first / n_tagged if n_tagged else 0.0,
        "texts_per_s": n / seconds,
    }
    print(
        f"{name}: n={n} top-1 {acc:.4f} | tagged {out['tagged_share']:.3f} | precision of topics given "
        f"{out['tag_precision']:.3f} | first topic right on tagged {out['first_tag_precision']:.3f}"
    )
    confusion = Counter((g, p) for g, p in zip(gold, top1, strict=True) if g != p).most_common(4)
    print("  most frequent confusions (gold -> top-1):", ", ".join(f"{g}->{p}: {c}" for (g, p), c in confusion))
    return out


def variants(labels: list[Label]) -> dict[str, TopicsConfig]:
    one = one_line(labels)
    v1 = {"rule": "threshold", "calibration": "reference", "pooling": "mean", "threshold": 0.2}
    return {
        "one-line, first rule (mean vector, reference, threshold 0.2)": TopicsConfig(taxonomy=one, **v1),
        "one-line, mean vector, confidence rule": TopicsConfig(taxonomy=one, pooling="mean"),
        "one-line, prototypes, confidence rule, no refinement": TopicsConfig(taxonomy=one, refine_from_store=False),
        "one-line, prototypes, confidence rule, centroids only (no neighbour smoothing)": TopicsConfig(
            taxonomy=one, refine_neighbours=False
        ),
        "one-line, prototypes, confidence rule (default)": TopicsConfig(taxonomy=one),
        "full texts, first rule": TopicsConfig(taxonomy=labels, **v1),
        "full texts, prototypes, confidence rule, no refinement": TopicsConfig(
            taxonomy=labels, refine_from_store=False
        ),
        "full texts, prototypes, confidence rule": TopicsConfig(taxonomy=labels),
    }


def file_vectors(path: Path, rows: list[dict], embedder):
    """The rows' vectors, from the cached vectors of the whole file (bench/vector_cache.py)."""
    texts = [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]
    return cached_vectors(texts, embedder)[[r["row"] for r in rows]]


async def run_local(
    rows: list[dict], labels: list[Label], all_variants: bool, pool: str, path: Path, curve: bool = False
) -> list[dict]:
    from topicserve.embedding import Embedder
    from topicserve.settings import get_settings

    embedder = Embedder(get_settings().embedding_model, get_settings().embedding_device)

    async def embed(texts: list[str]):
        return await asyncio.to_thread(embedder.embed, texts)

    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    start = time.perf_counter()
    vectors = await asyncio.to_thread(file_vectors, path, rows, embedder)
    embed_s = time.perf_counter() - start
    chosen = variants(labels) if all_variants else {"in-process (default settings)": TopicsConfig(taxonomy=labels)}
    model = TopicModel(embed)
    if pool == "split":  # a store holding these texts: their vectors, no labels
        model.refiner.set_pool(vectors)
    out = []
    for name, cfg in chosen.items():
        t0 = time.perf_counter()
        variant = model.variant(cfg)
        top1 = await variant.overridden({"top_k": 1, "min_confidence": 0.0, "margin": 0.0, "threshold": -100.0}).assign(
            texts, vectors
        )
        tagged = await variant.assign(texts, vectors)
        pred = [t[0].label if t else "" for t in top1]
        name = f"{name} [pool: {pool}, refinement: {variant.refinement_id()}]"
        out.append(report(name, gold, pred, [[x.label for x in t] for t in tagged], embed_s + time.perf_counter() - t0))
    if curve:
        curve_labels = one_line(labels) if all_variants else labels  # --variants sends the full texts too
        await precision_curve(model.variant(TopicsConfig(taxonomy=curve_labels)), texts, vectors, gold)
    return out


CURVE = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


async def precision_curve(model: TopicModel, texts: list[str], vectors, gold: list[str]) -> None:
    """Coverage (share tagged) against precision of the topics given, over min_confidence and top_k."""
    print("precision/coverage (default labels and rule, min_confidence and top_k varied):")
    for top_k in (1, 2):
        cells = []
        for floor in CURVE:
            tagged = await model.overridden({"min_confidence": floor, "top_k": top_k}).assign(texts, vectors)
            given = sum(len(t) for t in tagged)
            hits = sum(g in [x.label for x in t] for g, t in zip(gold, tagged, strict=True))
            share = sum(bool(t) for t in tagged) / len(gold)
            cells.append(f"{floor:g}: {share:.3f}@{hits / given if given else 0:.3f}")
        print(f"  top_k {top_k}: " + " | ".join(cells))


def ingest(rows: list[dict], url: str, batch: int) -> None:
    """Store the rows (text only, no label) so the service refines from them, like any store."""
    import httpx
    from tqdm import tqdm

    with httpx.Client(base_url=url, timeout=300) as client:
        for i in tqdm(range(0, len(rows), batch), desc="POST /documents", unit="batch"):
            docs = [{"id": f"agnews-{r['row']}", "text": r["text"]} for r in rows[i : i + batch]]
            client.post("/documents", json={"documents": docs}).raise_for_status()
        wait_for_pool(client)


def wait_for_pool(client, timeout_s: float = 300.0) -> None:
    """Until the service has taken a refinement pool from its store (it checks every 30 s, on calls)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        client.post("/topics", json={"texts": ["a call that lets the Topics replica check its store"]})
        topics = client.get("/readyz").json().get("topics", {})
        if topics.get("refinement_pool"):
            print(f"service refinement pool: {topics['refinement_pool']} documents")
            return
        time.sleep(5)
    print("the service took no refinement pool (refine_from_store off, or a store under min_pool)")


def run_http(rows: list[dict], labels: list[Label], url: str, batch: int) -> dict:
    import httpx
    from tqdm import tqdm

    texts, gold, top1, tagged = [r["text"] for r in rows], [r["label"] for r in rows], [], []
    payload_labels = [x.model_dump() for x in labels]
    start = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as client:
        for i in tqdm(range(0, len(texts), batch), desc="POST /topics", unit="batch"):
            body = {"texts": texts[i : i + batch], "labels": payload_labels}
            one = client.post(
                "/topics", json={**body, "top_k": 1, "min_confidence": 0.0, "margin": 0.0, "threshold": -100.0}
            )
            default = client.post("/topics", json=body)
            one.raise_for_status(), default.raise_for_status()
            top1 += [r["topics"][0]["label"] if r["topics"] else "" for r in one.json()["results"]]
            tagged += [[t["label"] for t in r["topics"]] for r in default.json()["results"]]
            rule = default.json().get("rule")
    return report(f"service {url}/topics [{rule}]", gold, top1, tagged, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATA), help="ag_news_test.jsonl")
    parser.add_argument("--split", choices=["dev", "test", "all"], default="dev")
    parser.add_argument("--labels", choices=["one-line", "full"], default="one-line")
    parser.add_argument("--data", help="another {text, label} JSONL with a .yaml taxonomy beside it (no split)")
    parser.add_argument("--limit", type=int, default=0, help="random sample of N rows of the split (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--taxonomy", default=str(TAXONOMY))
    parser.add_argument("--url", help="also measure through a running service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--service-only", action="store_true", help="skip the in-process run")
    parser.add_argument("--variants", action="store_true", help="report label representations and rules in-process")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--curve", action="store_true", help="precision/coverage over min_confidence and top_k")
    parser.add_argument("--pool", choices=["split", "none"], default="split", help="in-process refinement pool")
    parser.add_argument("--ingest", action="store_true", help="with --url: store the rows first (the service's pool)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    if args.data:
        rows = load_rows(Path(args.data), "all", args.limit, args.seed)
        args.taxonomy = str(Path(args.data).with_suffix(".yaml"))
    else:
        rows = load_rows(Path(args.path), args.split, args.limit, args.seed)
    labels = [Label.model_validate(t) for t in yaml.safe_load(Path(args.taxonomy).read_text())["topics"]]
    sent = labels if args.labels == "full" or args.variants else one_line(labels)
    print(f"{len(rows)} rows ({args.data or args.split}), labels: {args.labels}")
    path = Path(args.data or args.path)
    results = (
        [] if args.service_only else asyncio.run(run_local(rows, sent, args.variants, args.pool, path, args.curve))
    )
    if args.url and args.ingest:
        ingest(rows, args.url.rstrip("/"), args.batch)
    if args.url:
        results.append(
            run_http(rows, one_line(labels) if args.labels == "one-line" else labels, args.url.rstrip("/"), args.batch)
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
