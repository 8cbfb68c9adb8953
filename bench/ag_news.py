"""AG News zero-shot accuracy: the topic-quality benchmark (a benchmark, not a test).

    python bench/ag_news.py [PATH] [--limit N] [--url http://127.0.0.1:8000] [--variants]

Zero-shot: the four classes of bench/ag_news_taxonomy.yaml (label, one-line description, a few
paraphrases and prototype sentences written from the class definitions) — nothing is trained or
tuned on the test set. Each text gets the single best topic (top_k=1, no threshold); accuracy is
the share whose topic is the gold label. In-process by default (topicserve.inprocess: the same
embedder and topic model the service runs, no Ray); with ``--url`` through a running service's
``POST /topics`` (the taxonomy travels as the request's ``labels``). ``--variants`` also reports
the label representations the improvement is made of (bare names, one description, all texts)
and calibration on/off, in-process.
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

from topicserve.taxonomy import Label  # noqa: E402
from topicserve.topics import TopicModel, TopicsConfig  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"
TAXONOMY = Path(__file__).with_name("ag_news_taxonomy.yaml")


def load_rows(path: Path, limit: int, seed: int) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def report(name: str, gold: list[str], pred: list[str], seconds: float) -> dict:
    classes = sorted(set(gold))
    acc = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
    per = {}
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred, strict=True))
        n_pred, n_gold = sum(p == c for p in pred), sum(g == c for g in gold)
        prec, rec = (tp / n_pred if n_pred else 0.0), (tp / n_gold if n_gold else 0.0)
        per[c] = {"precision": prec, "recall": rec, "f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0}
    print(f"\n{name}: accuracy {acc:.4f} on {len(gold)} texts ({len(gold) / seconds:.0f} texts/s)")
    print("| class | precision | recall | F1 |\n|---|---|---|---|")
    for c, m in per.items():
        print(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |")
    confusion = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p).most_common(4)
    print("most frequent confusions (gold -> predicted):", ", ".join(f"{g}->{p}: {n}" for (g, p), n in confusion))
    return {"name": name, "accuracy": acc, "per_class": per, "n": len(gold)}


def variants(labels: list[Label]) -> dict[str, tuple[list[Label], str]]:
    bare = [Label(label=x.label) for x in labels]
    one = [Label(label=x.label, description=x.description) for x in labels]
    return {
        "bare names": (bare, "none"),
        "one-line descriptions": (one, "none"),
        "all texts (descriptions + examples), no calibration": (labels, "none"),
        "all texts + reference calibration (default)": (labels, "reference"),
    }


async def run_local(rows: list[dict], labels: list[Label], all_variants: bool) -> list[dict]:
    from topicserve.embedding import Embedder
    from topicserve.settings import get_settings

    embedder = Embedder(get_settings().embedding_model, get_settings().embedding_device)

    async def embed(texts: list[str]):
        return await asyncio.to_thread(embedder.embed, texts)

    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    start = time.perf_counter()
    vectors = await embed(texts)
    embed_s = time.perf_counter() - start
    chosen = variants(labels) if all_variants else {"in-process (default config)": (labels, "reference")}
    model = TopicModel(embed)
    out = []
    for name, (variant, calibration) in chosen.items():
        cfg = TopicsConfig(taxonomy=variant, calibration=calibration, top_k=1, threshold=-1.0)
        t0 = time.perf_counter()
        assigned = await model.variant(cfg).assign(texts, vectors)
        pred = [t[0].label if t else "" for t in assigned]
        out.append(report(name, gold, pred, embed_s + time.perf_counter() - t0))
    return out


def run_http(rows: list[dict], labels: list[Label], url: str, batch: int) -> dict:
    import httpx
    from tqdm import tqdm

    texts, gold, pred = [r["text"] for r in rows], [r["label"] for r in rows], []
    payload_labels = [x.model_dump() for x in labels]
    start = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as client:
        for i in tqdm(range(0, len(texts), batch), desc="POST /topics", unit="batch"):
            body = {"texts": texts[i : i + batch], "labels": payload_labels, "top_k": 1, "threshold": -1.0}
            resp = client.post("/topics", json=body)
            resp.raise_for_status()
            pred += [r["topics"][0]["label"] if r["topics"] else "" for r in resp.json()["results"]]
    return report(f"service {url}/topics", gold, pred, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATA), help="ag_news_test.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="random sample of N rows (0: all 7,600)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--taxonomy", default=str(TAXONOMY))
    parser.add_argument("--url", help="also measure through a running service, e.g. http://127.0.0.1:8000")
    parser.add_argument("--service-only", action="store_true", help="skip the in-process run")
    parser.add_argument("--variants", action="store_true", help="report each label representation in-process")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    rows = load_rows(Path(args.path), args.limit, args.seed)
    labels = [Label.model_validate(t) for t in yaml.safe_load(Path(args.taxonomy).read_text())["topics"]]
    results = [] if args.service_only else asyncio.run(run_local(rows, labels, args.variants))
    if args.url:
        results.append(run_http(rows, labels, args.url.rstrip("/"), args.batch))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
