"""Embedding throughput: in-process model vs the running service, measured in one run.

    make run                      # in another terminal, or any running topicserve
    .venv/bin/python bench/throughput.py --url http://127.0.0.1:8000

Prints texts/s for raw in-process encoding and for POST /v1/embeddings (float JSON and base64),
and each as a ratio of the in-process figure: the cost of the HTTP/JSON/handle path on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

ROOT = Path(__file__).resolve().parents[1]
AG_NEWS = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"


def load_texts(n: int) -> list[str]:
    source = AG_NEWS if AG_NEWS.exists() else ROOT / "topicserve" / "data" / "demo_corpus.jsonl"
    texts = [json.loads(line)["text"] for line in source.read_text().splitlines() if line.strip()]
    return (texts * (n // len(texts) + 1))[:n]


def in_process(texts: list[str], batch: int) -> float:
    from topicserve.embedding import Embedder
    from topicserve.settings import DEFAULT_MODEL

    model = Embedder(DEFAULT_MODEL, "auto")
    model.embed(texts[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.embed(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start)


def over_http(url: str, texts: list[str], batch: int, concurrency: int, encoding: str) -> float:
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]

    def call(chunk: list[str]) -> None:
        body = {"input": chunk, "encoding_format": encoding}
        requests.post(f"{url}/v1/embeddings", json=body, timeout=300).raise_for_status()

    call(chunks[0])  # warm-up
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, chunks))
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--n", type=int, default=1024, help="texts per measurement")
    parser.add_argument("--batch", type=int, default=32, help="texts per request / per encode call")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    args = parser.parse_args()
    texts = load_texts(args.n)
    requests.get(f"{args.url}/readyz", timeout=10).raise_for_status()
    rows = [("in-process encode", in_process(texts, args.batch))]
    for encoding in ("float", "base64"):
        rows.append(
            (f"HTTP /v1/embeddings ({encoding})", over_http(args.url, texts, args.batch, args.concurrency, encoding))
        )
    base = rows[0][1]
    print(f"{args.n} texts, batch {args.batch}, concurrency {args.concurrency}")
    print(f"{'path':34} {'texts/s':>9} {'ratio':>6}")
    for name, rate in rows:
        print(f"{name:34} {rate:9.1f} {rate / base:6.2f}")


if __name__ == "__main__":
    main()
