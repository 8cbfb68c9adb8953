"""Does feedback help? Confirm N AG News dev documents per class, measure on the rest of dev.

    python bench/feedback_prototypes.py [PATH] [--n 0,5,10,20,50] [--seeds 3]

Dev rows 0-1999 of ag_news_test.jsonl only (the test rows stay unread). Caller labels: the one-line
descriptions of bench/ag_news_taxonomy.yaml. Feedback is simulated: N documents of each class are
"confirmed" with their gold label; their centroid is blended into that label's mean vector
(topicserve/feedback.py, `with_examples`); top-1 accuracy, share tagged and precision (default rule) are measured
on the dev rows that were not confirmed. ``rejected`` variants: for the confirmed documents whose
top-1 topic was wrong, that topic is also "rejected" and the rejected vectors are used as negative
prototypes (score minus ``w`` times the pooled similarity to them).
Vectors are cached under build/ (gitignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from topicserve.taxonomy import Label  # noqa: E402
from topicserve.topics import TopicModel, TopicsConfig, reference_sentences  # noqa: E402
from topicserve.topics.examples import with_examples  # noqa: E402
from topicserve.topics.prototypes import score_matrix  # noqa: E402
from topicserve.topics.rules import (  # noqa: E402
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_NONE_SCORE,
    DEFAULT_TEMPERATURE,
    confidences,
    keep,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"
TAXONOMY = ROOT / "bench" / "ag_news_taxonomy.yaml"
CACHE = ROOT / "build" / "feedback-bench-dev.npy"
DEV_ROWS = 2000


def dev_rows(path: Path) -> list[dict]:
    if not path.exists():
        sys.exit(f"{path} not found: the AG News test file (7,600 rows of {{text, label}}) is needed here")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()][:DEV_ROWS]


async def setup(rows: list[dict]):
    from topicserve.embedding import Embedder
    from topicserve.settings import DEFAULT_MODEL

    embedder = Embedder(DEFAULT_MODEL, "cpu")

    async def embed(texts):
        return await asyncio.to_thread(embedder.embed, texts)

    if CACHE.exists():
        vectors = np.load(CACHE)
    else:
        vectors = np.asarray(await embed([r["text"] for r in rows]), np.float32)
        CACHE.parent.mkdir(exist_ok=True)
        np.save(CACHE, vectors)
    raw = yaml.safe_load(TAXONOMY.read_text())["topics"]
    labels = [Label(label=t["label"], description=t["description"]) for t in raw]
    model = TopicModel(embed, TopicsConfig(taxonomy=labels))
    protos = await model.label_vectors.prototypes(labels, "prototypes")
    background = await model.label_vectors.vectors(list(reference_sentences()))
    return vectors, labels, protos, background


def measure(vectors, gold, names, protos, negatives=None, weight=0.0) -> dict:
    raw = score_matrix(vectors, protos, "prototypes")
    z = (raw - np.array([p.background_mean for p in protos])) / np.array([p.background_std for p in protos])
    if negatives:
        for j, name in enumerate(names):
            if name.lower() in negatives:
                z[:, j] -= weight * (vectors @ negatives[name.lower()].T).max(axis=1) / protos[j].background_std
    top1 = [names[j] for j in z.argmax(axis=1)]
    conf = confidences(z, DEFAULT_TEMPERATURE, DEFAULT_NONE_SCORE)
    kept = keep(z, conf, "confidence", 2, None, DEFAULT_MIN_CONFIDENCE)
    tagged = [[names[j] for j in row] for row in kept]
    given = sum(len(t) for t in tagged)
    return {
        "top1": float(np.mean([g == p for g, p in zip(gold, top1, strict=True)])),
        "tagged": float(np.mean([bool(t) for t in tagged])),
        "precision": sum(g in t for g, t in zip(gold, tagged, strict=True)) / max(given, 1),
    }


def run(rows, vectors, labels, protos, background, n: int, seed: int, reject_weight: float) -> dict:
    names, gold = [x.label for x in labels], [r["label"] for r in rows]
    rng = random.Random(seed)
    confirmed: list[int] = []
    for name in names:
        idx = [i for i, g in enumerate(gold) if g == name]
        confirmed += rng.sample(idx, n)
    rest = sorted(set(range(len(rows))) - set(confirmed))
    examples = {name.lower(): vectors[[i for i in confirmed if gold[i] == name]] for name in names if n}
    fed = [
        with_examples(p, examples[x.label.lower()], background, "prototypes") if n else p
        for x, p in zip(labels, protos, strict=True)
    ]
    negatives: dict[str, list] = {}
    if reject_weight:
        z0 = score_matrix(vectors[confirmed], protos, "prototypes")
        for i, j in zip(confirmed, z0.argmax(axis=1), strict=True):
            if names[j] != gold[i]:
                negatives.setdefault(names[j].lower(), []).append(vectors[i])
    neg = {k: np.stack(v) for k, v in negatives.items()}
    return measure(vectors[rest], [gold[i] for i in rest], names, fed, neg, reject_weight)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--n", default="0,5,10,20,50")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--reject-weights", default="0,0.5,1")
    args = parser.parse_args()
    rows = dev_rows(Path(args.path))
    vectors, labels, protos, background = asyncio.run(setup(rows))
    print("| confirmed per class | rejected weight | top-1 (rest of dev) | tagged | precision |")
    print("|---|---|---|---|---|")
    for n in [int(x) for x in args.n.split(",")]:
        for w in [float(x) for x in args.reject_weights.split(",")]:
            if w and not n:
                continue
            got = [run(rows, vectors, labels, protos, background, n, s, w) for s in range(args.seeds)]
            mean = {k: np.mean([g[k] for g in got]) for k in got[0]}
            print(f"| {n} | {w:g} | {mean['top1']:.4f} | {mean['tagged']:.3f} | {mean['precision']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
