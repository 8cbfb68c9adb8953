"""Where the time of one /search goes, at a few thousand stored documents.

    nice .venv/bin/python bench/search_path.py --docs 3000        # takes the Ray lock for the service part

1. service: the app deployed on local Ray (bench/service.py, the shared lock), ``--docs`` AG News
   first sentences (or synthetic texts without ../shared) ingested over HTTP, then p50 of
   POST /search (distinct queries: every one misses the search cache) and of GET /healthz (HTTP +
   proxy + Ingress, no handle hop). Ray is stopped before the in-process part.
2. in-process, on a copy of the table the service wrote (same model and backend): the query's
   embedding, DocumentStore.search, the Gateway's search without Ray (embedding + store + response),
   and the response's JSON. The service's p50 minus the in-process gateway's is Ray's share
   (proxy, handle hops to the Embedder and the State, pickling).
Results: bench/results/search_path.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # the bench's own loopback cluster (bench/__main__.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench.service import BUILD, ServiceConfig, deploy, ray_lock
from topicserve import schemas as s

ROOT = Path(__file__).resolve().parents[1]
PORT = 8431


def texts(n: int) -> list[str]:
    try:
        from bench.texts import short_texts

        return short_texts(n)
    except (FileNotFoundError, OSError) as exc:
        print(f"AG News not found ({exc}): synthetic texts", flush=True)
        words = ["market", "team", "election", "storm", "vaccine", "chip", "league", "court", "rocket", "merger"]
        return [f"{words[i % 10]} report {i}: {words[(i * 7) % 10]} news of the day" for i in range(n)]


def p50_ms(call: Callable[[int], object], n: int) -> float:
    call(-1)  # warm-up
    times = []
    for i in range(n):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2)


def service_part(docs: list[str], queries: list[str]) -> tuple[dict, Path]:
    with ray_lock():
        url = deploy(ServiceConfig(), PORT)
        store_dir = max(BUILD.glob("store-*"), key=lambda p: p.stat().st_mtime)
        session = requests.Session()
        for start in range(0, len(docs), 256):
            batch = [{"id": f"d{start + i}", "text": t} for i, t in enumerate(docs[start : start + 256])]
            session.post(f"{url}/documents", json={"documents": batch}, timeout=600).raise_for_status()

        def search(i: int) -> None:
            session.post(f"{url}/search", json={"query": queries[i]}, timeout=60).raise_for_status()

        out = {
            "search_ms": p50_ms(search, len(queries) - 1),
            "healthz_ms": p50_ms(lambda i: session.get(f"{url}/healthz", timeout=60).raise_for_status(), 100),
        }
        copy = Path(tempfile.mkdtemp(prefix="search-path-"))
        shutil.copytree(store_dir, copy, dirs_exist_ok=True)  # read while nothing writes it
    return out, copy


def in_process_part(store_dir: Path, queries: list[str]) -> dict:
    from topicserve.embedding import Embedder
    from topicserve.inprocess import build_gateway
    from topicserve.settings import get_settings
    from topicserve.store import DocumentStore

    embedder = Embedder(get_settings().embedding_model, "auto")
    store = DocumentStore(str(store_dir), background=False)
    gateway = build_gateway(str(store_dir), embedder=embedder, store=store)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(gateway.startup())
    vectors = embedder.embed(queries)
    request = s.SearchRequest(query=queries[0])
    response = loop.run_until_complete(gateway.search(request))
    return {
        "embed_ms": p50_ms(lambda i: embedder.embed([queries[i]]), len(queries) - 1),
        "store_search_ms": p50_ms(lambda i: store.search(vectors[i], store.space, 10), len(queries) - 1),
        "gateway_ms": p50_ms(
            lambda i: loop.run_until_complete(gateway.search(s.SearchRequest(query=queries[i]))), len(queries) - 1
        ),
        "response_json_ms": p50_ms(lambda i: response.model_dump_json(), 100),
        "documents": len(store),
    }


def markdown(report: dict) -> str:
    r = report["results"]
    ray_share = round(r["search_ms"] - r["gateway_ms"], 2)
    rows = [
        ("POST /search through the service (HTTP, proxy, Ingress, Embedder + State hops)", r["search_ms"]),
        ("GET /healthz (HTTP, proxy, Ingress; no hop)", r["healthz_ms"]),
        ("Gateway.search in-process (embedding + store + response, no Ray)", r["gateway_ms"]),
        ("  the query's embedding (Embedder.embed, one text)", r["embed_ms"]),
        ("  DocumentStore.search (k=10)", r["store_search_ms"]),
        ("  the response's JSON", r["response_json_ms"]),
        ("Ray's share: /search minus the in-process gateway", ray_share),
    ]
    lines = [
        f"# The /search request path at {r['documents']:,} documents",
        "",
        f"p50 over {report['params']['queries']} distinct queries; {report['machine']}; "
        f"load average {report['load_average']}.",
        "",
        "| part | p50 ms |",
        "|---|---|",
        *[f"| {name} | {ms} |" for name, ms in rows],
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    corpus = texts(args.docs + args.queries)
    docs, queries = corpus[: args.docs], [f"{q} ({i})" for i, q in enumerate(corpus[args.docs :])]
    service, store_dir = service_part(docs, queries)
    results = service | in_process_part(store_dir, queries)
    shutil.rmtree(store_dir, ignore_errors=True)
    report = {
        "params": vars(args),
        "results": results,
        "machine": f"{os.cpu_count()} CPUs shared with other jobs, niced",
        "load_average": round(os.getloadavg()[0], 1),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = Path(args.out) / "search_path"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
