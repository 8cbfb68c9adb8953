"""Where the time of one /search goes, at a few thousand stored documents.

    nice .venv/bin/python bench/search_path.py --docs 3000        # takes the Ray lock for the service part

1. service: the app deployed on local Ray (bench/service.py, the shared lock), ``--docs`` AG News
   first sentences (or synthetic texts without ../shared) ingested over HTTP, then p50 of
   POST /search (distinct queries: every one misses the search cache) and of GET /healthz (HTTP +
   proxy + Ingress, no handle hop). Ray is stopped before the in-process part.
2. in-process, on a copy of the table the service wrote (same model and backend): the query's
   embedding, DocumentStore.search, and the search plus the response model and its JSON. The
   service's p50 minus /healthz minus that work is what the handle hops (and queueing) cost.
Results: bench/results/search_path.json and .md.
"""

from __future__ import annotations

import argparse
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
    """The per-search work of the service, without Ray: what the Embedder, the State and the Ingress
    do for one /search (the in-process Gateway is no stand-in: its LocalState counts the re-tag
    progress on every call, which the State deployment does not)."""
    import pickle

    from topicserve.embedding import Embedder
    from topicserve.settings import get_settings
    from topicserve.store import DocumentStore

    # One thread, as the service's Embedder (ServiceConfig.threads).
    embedder = Embedder(get_settings().embedding_model, "auto", threads=ServiceConfig().threads)
    store = DocumentStore(str(store_dir), background=False)
    vectors = embedder.embed(queries)
    space = store.space

    def respond(i: int) -> str:
        hits = store.search(vectors[i], space, 10)
        results = [s.SearchResult(**doc.model_dump(), score=round(score, 6)) for doc, score in hits]
        return s.SearchResponse(results=results, model=space.model).model_dump_json()

    hits = store.search(vectors[0], space, 10)
    n = len(queries) - 1
    return {
        "embed_ms": p50_ms(lambda i: embedder.embed([queries[i]]), n),
        "store_search_ms": p50_ms(lambda i: store.search(vectors[i], space, 10), n),
        "store_and_response_ms": p50_ms(respond, n),
        "pickle_hits_ms": p50_ms(lambda i: pickle.loads(pickle.dumps(hits)), 100),
        "documents": len(store),
    }


def markdown(report: dict) -> str:
    r = report["results"]
    own = round(r["embed_ms"] + r["store_and_response_ms"], 2)
    rows = [
        ("POST /search through the service", r["search_ms"]),
        ("GET /healthz: HTTP, Serve's proxy, the Ingress (no handle hop)", r["healthz_ms"]),
        ("the search's own work in-process: embedding + store + response", own),
        ("  the query's embedding (Embedder.embed, one text)", r["embed_ms"]),
        ("  DocumentStore.search (k=10)", r["store_search_ms"]),
        ("  store search + SearchResponse + JSON", r["store_and_response_ms"]),
        ("  pickling the 10 hits there and back (one handle hop's payload)", r["pickle_hits_ms"]),
        (
            "left for the handle hop (one State search_view; the Ingress embeds the query) and queueing",
            round(r["search_ms"] - r["healthz_ms"] - own, 2),
        ),
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
