"""Load generators, shared by every peer: batch throughput with concurrent clients, single-text latency."""

from __future__ import annotations

import base64
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests


def throughput(call: Callable[[list[str]], object], texts: list[str], batch: int, concurrency: int = 1) -> float:
    """texts/s of ``call`` over ``texts`` in chunks of ``batch``, ``concurrency`` calls in flight."""
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]
    call(chunks[0])  # warm-up
    start = time.perf_counter()
    if concurrency == 1:
        for chunk in chunks:
            call(chunk)
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(call, chunks))
    return len(texts) / (time.perf_counter() - start)


def latency_p50_ms(call: Callable[[list[str]], object], texts: list[str], n: int = 200) -> float:
    """Median milliseconds of ``n`` sequential single-text calls."""
    call(texts[:1])
    times = []
    for i in range(n):
        start = time.perf_counter()
        call([texts[i % len(texts)]])
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def http_embedder(url: str, model: str | None = None, encoding: str = "float") -> Callable[[list[str]], object]:
    """POST {url}/v1/embeddings (OpenAI shape) on one keep-alive session per thread; ``encoding`` "base64"
    asks for little-endian float32 bytes in base64 and decodes them as the openai client does (its
    default when numpy is installed), "float" for JSON numbers."""
    import threading

    local = threading.local()

    def call(texts: list[str]) -> object:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = {"input": texts, "encoding_format": encoding} | ({"model": model} if model else {})
        resp = session.post(url, json=body, timeout=300)
        resp.raise_for_status()
        data = resp.json()["data"]
        assert len(data) == len(texts)
        if encoding == "base64":
            return np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in data])
        return data

    return call


def ingest(url: str, texts: list[str], batch: int = 64) -> dict:
    """POST {url}/documents in batches of ``batch`` (one client) and the same batches through
    /v1/embeddings: docs/s, and the share of an ingest that is the embedding (the rest: topics + store)."""
    import time as _time

    session = requests.Session()
    stamp = _time.time_ns()
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]

    def post_docs(i: int, chunk: list[str]) -> None:
        docs = [{"id": f"bench-{stamp}-{i}-{j}", "text": t} for j, t in enumerate(chunk)]
        session.post(f"{url}/documents", json={"documents": docs}, timeout=300).raise_for_status()

    post_docs(-1, chunks[0])  # warm-up (creates the table)
    start = _time.perf_counter()
    for i, chunk in enumerate(chunks):
        post_docs(i, chunk)
    ingest_s = _time.perf_counter() - start
    embed = http_embedder(f"{url}/v1/embeddings")
    start = _time.perf_counter()
    for chunk in chunks:
        embed(chunk)
    embed_s = _time.perf_counter() - start
    return {"docs_per_s": len(texts) / ingest_s, "embed_texts_per_s": len(texts) / embed_s,
            "embed_share": embed_s / ingest_s, "batch": batch, "n": len(texts)}  # fmt: skip
