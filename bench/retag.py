"""Re-tag throughput against ingest, in-process (a benchmark, not a test).

    python bench/retag.py [--rows 2000] [--batch 256]

Stores ``--rows`` AG News texts (``../shared/data/ag_news_test.jsonl``, relative to the repo root)
through the in-process ingest path (embed, tag, upsert in batches), changes the taxonomy (the
four AG News classes as labels) and re-tags every stored document with ``RetagWorker`` (tag from
the stored vectors, guarded whole-row merge per batch). Reports rows/s of both and their ratio:
the ratio is what to read on a shared machine. Writes bench/results/retag-<rows>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from topicserve.embedding import Embedder  # noqa: E402
from topicserve.retag import RetagWorker  # noqa: E402
from topicserve.settings import DEFAULT_MODEL  # noqa: E402
from topicserve.space import EmbeddingSpace  # noqa: E402
from topicserve.store import DocumentStore, StoredDocument  # noqa: E402
from topicserve.tagging import ModelTagger, tag  # noqa: E402
from topicserve.taxonomy import Label  # noqa: E402
from topicserve.topics import TopicModel, TopicsConfig  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"
AG_LABELS = [
    Label(label="world", description="World news: politics, diplomacy, conflicts and elections."),
    Label(label="sports", description="Sports: games, players, teams and tournaments."),
    Label(label="business", description="Business: companies, markets, the economy and trade."),
    Label(label="science and technology", description="Science and technology: computers, the internet, space."),
]


def texts(rows: int) -> list[str]:
    if not DATA.is_file():
        sys.exit(f"{DATA} is missing: this benchmark reads AG News from ../shared/data/ (see bench/ag_news.py)")
    lines = DATA.read_text().splitlines()[:rows]
    return [json.loads(line)["text"] for line in lines]


async def ingest(store, model, embedder, corpus: list[str], space, batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(corpus), batch):
        part = corpus[start : start + batch]
        vectors = await asyncio.to_thread(embedder.embed, part)
        tagged = await tag(model, part, vectors)
        now = datetime.now(UTC)
        docs = [
            StoredDocument(
                id=f"ag{start + i:06d}", text=t, timestamp=now, topics=top, taxonomy_version=tagged.version, nearest=n
            )
            for i, (t, top, n) in enumerate(zip(part, tagged.topics, tagged.nearest, strict=True))
        ]
        await asyncio.to_thread(store.upsert, docs, vectors, space)
    return time.perf_counter() - started


async def main(rows: int, batch: int) -> dict:
    corpus = texts(rows)
    embedder = Embedder(DEFAULT_MODEL, "cpu")

    async def embed(items):
        return await asyncio.to_thread(embedder.embed, items)

    space = EmbeddingSpace.from_info(embedder.info())
    with tempfile.TemporaryDirectory() as tmp:
        store = DocumentStore(tmp, background=False)
        ingest_s = await ingest(store, TopicModel(embed), embedder, corpus, space, batch)
        worker = RetagWorker(store, ModelTagger(TopicModel(embed, TopicsConfig(taxonomy=AG_LABELS))), batch_size=batch)
        await worker.tagger.tag(corpus[:2], embedder.embed(corpus[:2]))  # label vectors embedded once, not timed
        started = time.perf_counter()
        done = await worker.run()
        retag_s = time.perf_counter() - started
        progress = store.progress(worker.version)
    result = {
        "rows": rows,
        "batch": batch,
        "ingest_rows_per_s": round(rows / ingest_s, 1),
        "retag_rows_per_s": round(done / retag_s, 1),
        "retag_vs_ingest": round((done / retag_s) / (rows / ingest_s), 2),
        "progress": progress,
    }
    out = ROOT / "bench" / "results" / f"retag-{rows}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rows, args.batch)), indent=2))
