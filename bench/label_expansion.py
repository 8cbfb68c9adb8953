"""The headroom of LLM-expanded label prototypes (topics/expand.py) on AG News **dev** rows only.

    python bench/label_expansion.py [PATH] [--limit N]

No real LLM is reachable here, so this does not measure what a real LLM's expansions are worth: it
measures the mechanism with a stand-in. The "LLM" is a loopback OpenAI-compatible server
(tests/support/chat.py) that answers each label's expansion prompt with the paraphrases and
examples of bench/ag_news_taxonomy.yaml, which were written by hand from the AG News class
definitions, never from its rows (the file's header says so). The caller sends one-line labels;
the expansion goes through the service's own path (expand_labels, the prompt, parsing, the cache,
the taxonomy swap). Rows 0-1999 only: the test rows are never read.

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
from topicserve.taxonomy import Label  # noqa: E402

# (definitions, examples) the stand-in LLM gives per label: the prompt asks for 3 + 5
SHAPES = {"3 paraphrases + 5 examples": (3, 5), "3 paraphrases only": (3, 0), "5 examples only": (0, 5)}


def dev_rows(path: Path, limit: int) -> list[dict]:
    if not path.exists():
        sys.exit(f"{path} not found: the AG News test file (7,600 rows of {{text, label}}) is needed here")
    with path.open() as f:
        rows = [json.loads(line) for _, line in zip(range(DEV_ROWS), f, strict=False) if line.strip()]
    return rows[: limit or DEV_ROWS]


def stand_in(labels: list[Label], shape: tuple[int, int]):
    """The loopback LLM's answer to one expansion prompt: that label's hand-written texts."""
    by_name = {label.label: label for label in labels}

    def reply(body: dict) -> str:
        name = body["messages"][-1]["content"].split("Topic: ", 1)[1].split("\n", 1)[0]
        label = by_name[name]
        return json.dumps({"definitions": label.descriptions[: shape[0]], "examples": label.examples[: shape[1]]})

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
    from topicserve.settings import get_settings
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
        for shape_name, shape in SHAPES.items():
            llm = {"url": server.url, "model": f"hand-written-{shape[0]}+{shape[1]}", "retries": 0}
            cfg = TopicsConfig(taxonomy=one_line(labels), expand_labels=True, llm=llm)
            variants[f"one-line + expansion: {shape_name}"] = (cfg, shape)
        variants["full hand-written labels sent by the caller (reference)"] = (TopicsConfig(taxonomy=labels), None)
        for name, (cfg, shape) in variants.items():
            if shape is not None:
                server.script = [stand_in(labels, shape)]
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
    parser.add_argument("--limit", type=int, default=0, help="the first N dev rows (0: all 2,000)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    rows = dev_rows(Path(args.path), args.limit)
    labels = [Label.model_validate(t) for t in yaml.safe_load(TAXONOMY.read_text())["topics"]]
    print(f"{len(rows)} AG News dev rows; load: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as cache, ChatServer() as server:
        os.environ["TOPICSERVE_LABEL_EXPANSIONS_DIR"] = cache  # a fresh cache: every expansion is asked for
        results = asyncio.run(run(rows, labels, server))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
