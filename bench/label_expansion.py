"""The headroom of LLM-expanded label prototypes (topics/expand.py) on AG News **dev** rows only.

    python bench/label_expansion.py [PATH] [--limit N] [--part dev|test]

No real LLM is reachable here, so this does not measure what a real LLM's expansions are worth: it
measures the mechanism with a stand-in. The "LLM" is a loopback OpenAI-compatible server
(tests/support/chat.py) that answers each label's expansion prompt with the paraphrases and
examples of bench/ag_news_taxonomy.yaml, which were written by hand from the AG News class
definitions, never from its rows (the file's header says so). The caller sends one-line labels;
the expansion goes through the service's own path (expand_labels, the prompt, parsing, the cache,
the taxonomy swap). Two stress rows show the cost of bad expansions: generic templated texts, and
every label given the next label's texts. Rows 0-1999 (dev) by default; everything about the
expansion (3 + 5 texts, the gate, which labels) was chosen on them. ``--part test`` reads rows
2000+ instead, to report what those choices give on rows never used to make them.

Reported per variant, with and without a refinement pool (the split's vectors, no labels): top-1,
share tagged, precision of the topics given (bench/ag_news.py's report), and the LLM calls made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ag_news import DEFAULT_DATA, DEV_ROWS, TAXONOMY, one_line, report  # noqa: E402
from bench.vector_cache import cached_vectors  # noqa: E402
from tests.support.chat import ChatServer  # noqa: E402
from topicserve.settings import get_settings  # noqa: E402
from topicserve.taxonomy import Label  # noqa: E402


def hand(n_definitions: int, n_examples: int):
    return lambda label, labels: (label.descriptions[:n_definitions], label.examples[:n_examples])


def generic(label: Label, labels: list[Label]) -> tuple[list[str], list[str]]:
    """A content-free stand-in: what a weak LLM might write (stress row, not a quality estimate)."""
    name = label.label
    return [f"Texts about {name}.", f"The topic of {name}.", f"Anything related to {name}."], [
        f"This is a news article about {name}.",
        f"Here is the latest {name} story.",
        f"A report on {name} today.",
        f"An update in {name}.",
        f"More {name} news.",
    ]


def wrong_class(label: Label, labels: list[Label]) -> tuple[list[str], list[str]]:
    """The next label's texts: an LLM that misreads every label (stress row: the cost of bad expansions)."""
    other = labels[(labels.index(label) + 1) % len(labels)]
    return other.descriptions[:3], other.examples[:5]


# What the stand-in LLM answers per label: (definitions, examples); the prompt asks for 3 + 5.
STAND_INS = {
    "3 hand-written paraphrases + 5 examples": hand(3, 5),
    "3 hand-written paraphrases only": hand(3, 0),
    "5 hand-written examples only": hand(0, 5),
    "stress: generic templated texts": generic,
    "stress: the next label's texts (wrong class)": wrong_class,
}


def split_rows(path: Path, limit: int, part: str = "dev") -> list[dict]:
    """The dev rows (0-1999) or the test rows (2000+) of the AG News file, the first ``limit`` of them."""
    if not path.exists():
        sys.exit(f"{path} not found: the AG News test file (7,600 rows of {{text, label}}) is needed here")
    with path.open() as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = rows[:DEV_ROWS] if part == "dev" else rows[DEV_ROWS:]
    return rows[: limit or len(rows)]


def stand_in(labels: list[Label], texts):
    """The loopback LLM's answer to one expansion prompt."""
    by_name = {label.label: label for label in labels}

    def reply(body: dict) -> str:
        name = body["messages"][-1]["content"].split("Topic: ", 1)[1].split("\n", 1)[0]
        definitions, examples = texts(by_name[name], labels)
        return json.dumps({"definitions": definitions, "examples": examples})

    return reply


async def measure(name, model, texts, vectors, gold) -> dict:
    top1 = await model.overridden({"top_k": 1, "min_confidence": 0.0, "margin": 0.0, "threshold": -100.0}).assign(
        texts, vectors
    )
    tagged = await model.assign(texts, vectors)
    pred = [t[0].label if t else "" for t in top1]
    return report(name, gold, pred, [[x.label for x in t] for t in tagged], 1.0)


async def run(rows: list[dict], labels: list[Label], server: ChatServer) -> list[dict]:
    from topicserve.embedding import Embedder
    from topicserve.topics import TopicModel, TopicsConfig

    embedder = Embedder(get_settings().embedding_model, get_settings().embedding_device)

    async def embed(texts: list[str]):
        return await asyncio.to_thread(embedder.embed, texts)

    texts, gold = [r["text"] for r in rows], [r["label"] for r in rows]
    vectors = await asyncio.to_thread(cached_vectors, texts, embedder)
    out = []
    for pool in ("none", "split"):
        model = TopicModel(embed)
        if pool == "split":  # a store holding these texts: their vectors, no labels
            model.refiner.set_pool(vectors)
        variants = {"one-line labels (no expansion)": (TopicsConfig(taxonomy=one_line(labels)), None)}
        for i, (stand_in_name, answer) in enumerate(STAND_INS.items()):
            llm = {"url": server.url, "model": f"stand-in-{i}", "retries": 0}  # a model name each: a cache key each
            cfg = TopicsConfig(taxonomy=one_line(labels), expand_labels=True, llm=llm)
            variants[f"one-line + expansion: {stand_in_name}"] = (cfg, answer)
        variants["full hand-written labels sent by the caller (reference)"] = (TopicsConfig(taxonomy=labels), None)
        for name, (cfg, answer) in variants.items():
            if answer is not None:
                server.script = [stand_in(labels, answer)]
            calls = len(server.requests)
            model.configure(cfg)
            await model.expansion_done()
            expansion = model.info()["expansion"]
            await model.refresh_refinement()
            result = await measure(
                f"{name} [pool: {pool}, refinement {model.refinement_id()}]", model, texts, vectors, gold
            )
            result |= {"llm_calls": len(server.requests) - calls, "expanded": expansion and expansion["expanded"]}
            print(f"  LLM calls: {result['llm_calls']}, expanded: {result['expanded']}")
            out.append(result)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", default=str(DEFAULT_DATA), help="ag_news_test.jsonl")
    parser.add_argument("--limit", type=int, default=0, help="the first N rows of the part (0: all of it)")
    parser.add_argument("--part", choices=("dev", "test"), default="dev", help="test: report only, never tune on it")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    rows = split_rows(Path(args.path), args.limit, args.part)
    labels = [Label.model_validate(t) for t in yaml.safe_load(TAXONOMY.read_text())["topics"]]
    print(f"{len(rows)} AG News {args.part} rows; load: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as cache, ChatServer() as server:
        os.environ["TOPICSERVE_LABEL_EXPANSIONS_DIR"] = cache  # a fresh cache: every expansion is asked for
        get_settings.cache_clear()  # read at import already (topicserve.taxonomy)
        results = asyncio.run(run(rows, labels, server))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
