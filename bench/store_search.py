"""Store search at scale: N random unit 384-d vectors in a LanceDB table, ANN index, latency and recall.

    nice .venv/bin/python bench/store_search.py --rows 1000000      # make bench-store

Writes random unit vectors (see Vectors) straight into the table in batches (with 20 topics, so a topic filter
keeps ~5%), builds the vector index the way the writer's background thread does, then measures
through the store API (DocumentStore.search, k=10): p50/p99 latency with and without a topic
filter, recall@10 against exact search (the same table, index bypassed) on 100 queries,
open-to-ready time (open + first answered query), RSS, ingest rows/s (raw batches, and through
DocumentStore.upsert). Random vectors have no cluster structure: a worst case for IVF indexes.
Results go to bench/results/store_search-<rows>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from topicserve.settings import AnnIndexType, Settings
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, StoredDocument
from topicserve.store.documents import TOPIC
from topicserve.topics import TopicScore

ROOT = Path(__file__).resolve().parents[1]
TOPICS = [f"topic-{i:02d}" for i in range(20)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


LATENT = 32  # intrinsic dimension of the default data; sentence embeddings have a low one too
NOISE = 0.1


class Vectors:
    """Random unit vectors: by default a random 32-d Gaussian mapped into ``dim`` dimensions plus a
    little isotropic noise (a low intrinsic dimension, like real embeddings); ``uniform`` draws
    directly on the 384-d sphere (no structure at all: every neighbour is about as far as any
    other, the worst case for any ANN index)."""

    def __init__(self, dim: int, uniform: bool, seed: int = 0) -> None:
        self.dim, self.uniform = dim, uniform
        self.basis = np.random.default_rng(seed).standard_normal((LATENT, dim), dtype=np.float32) / np.sqrt(LATENT)

    def __call__(self, rng: np.random.Generator, n: int) -> np.ndarray:
        noise = rng.standard_normal((n, self.dim), dtype=np.float32)
        if self.uniform:
            v = noise
        else:
            v = rng.standard_normal((n, LATENT), dtype=np.float32) @ self.basis + NOISE * noise / np.sqrt(self.dim)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def batch_table(schema: pa.Schema, start: int, vectors: np.ndarray, rng: np.random.Generator) -> pa.Table:
    n, dim = vectors.shape
    labels = rng.integers(0, len(TOPICS), n)
    ts = pa.array([T0 + timedelta(seconds=int(start + i)) for i in range(n)], pa.timestamp("us", tz="UTC"))
    columns = {
        "id": [f"v{start + i:08d}" for i in range(n)],
        "text": [f"row {start + i}" for i in range(n)],
        "timestamp": ts,
        "metadata": ["{}"] * n,
        "topics": pa.array([[{"label": TOPICS[t], "score": 0.5}] for t in labels], pa.list_(TOPIC)),
        "topic_labels": [[TOPICS[t]] for t in labels],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dim),
    }
    for field in schema:  # columns of later releases (taxonomy_version, nearest, updated_at): null
        columns.setdefault(field.name, pa.nulls(n, field.type))
    return pa.table(columns, schema=schema)


def ingest(store: DocumentStore, rows: int, vectors: Vectors, batch: int, rng) -> float:
    started = time.perf_counter()
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        store.table.add(batch_table(store.table.schema, start, vectors(rng, n), rng))
        print(f"  ingested {start + n:>9,} rows", flush=True)
    return rows / (time.perf_counter() - started)


def upsert_rate(store, space, vectors: Vectors, rng, batches: int = 5, size: int = 256) -> float:
    """Docs/s through DocumentStore.upsert (merge_insert on id), batches of the API's maximum size."""
    started = time.perf_counter()
    for b in range(batches):
        docs = [
            StoredDocument(id=f"u{b}-{i}", text="upserted", timestamp=T0, topics=[TopicScore(label="x", score=1.0)])
            for i in range(size)
        ]
        store.upsert(docs, vectors(rng, size), space)
    return batches * size / (time.perf_counter() - started)


def latencies(store, space, queries, warmup, **filters) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    for q in warmup:  # other queries than the measured ones: the index cache warms as in a serving process
        store.search(q, space, 10, **filters)
    found, times, cpu = [], [], []
    for q in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        hits = store.search(q, space, 10, **filters)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)  # all threads: independent of other jobs
        found.append([d.id for d, _ in hits])
    return found, np.asarray(times), np.asarray(cpu)


def exact_ids(store, space, queries, cache: Path, **filters) -> list[list[str]]:
    """Exact top-10 ids per query (index bypassed), cached next to the table for later sweeps."""
    if cache.exists():
        return json.loads(cache.read_text())
    exact = [[d.id for d, _ in store.search(q, space, 10, exact=True, **filters)] for q in queries]
    cache.write_text(json.dumps(exact))
    return exact


def recall(found: list[list[str]], exact: list[list[str]]) -> float:
    return float(np.mean([len(set(g) & set(e)) / max(1, len(e)) for g, e in zip(found, exact, strict=True)]))


def vector_index_mb(table) -> float:
    """On-disk size of the vector index (its directory under _indices/)."""
    ds = table.to_lance()
    uuid = next(i["uuid"] for i in ds.list_indices() if i["fields"] == ["vector"])
    files = (Path(ds.uri) / "_indices" / uuid).rglob("*")
    return round(sum(f.stat().st_size for f in files if f.is_file()) / 2**20, 1)


def rss_mb() -> dict[str, float]:
    current = next(
        int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines() if "VmRSS" in line
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_mb": round(current, 1), "peak_rss_mb": round(peak, 1)}


def settings_from(args) -> Settings:
    return Settings(
        ann_threshold=1,
        ann_index_type=args.index_type,
        ann_partitions=args.partitions,
        ann_sub_vectors=args.sub_vectors,
        ann_m=args.m,
        ann_ef_construction=args.ef_construction,
        ann_nprobes=args.nprobes,
        ann_refine_factor=args.refine_factor,
        ann_ef=args.ef,
        exact_filter_rows=args.exact_filter_rows,
    )


def measure(path: str, args, space: EmbeddingSpace, vectors: Vectors, rng) -> dict:
    started = time.perf_counter()
    store = DocumentStore(path, settings=settings_from(args), background=False)
    queries = vectors(np.random.default_rng(1), args.queries)  # the same queries in every run
    warmup = vectors(np.random.default_rng(2), args.warmup)
    store.search(queries[0], space, 10)
    result = {"open_to_ready_s": round(time.perf_counter() - started, 3)}
    result["load_average_before"] = round(os.getloadavg()[0], 2)
    for name, filters in (("no_filter", {}), ("topic_filter", {"topic": TOPICS[3]})):
        found, ms, cpu = latencies(store, space, queries, warmup, **filters)
        cache = Path(path) / f"exact-{name}-{args.queries}.json" if args.dir else Path(tempfile.mktemp())
        result[name] = {
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "cpu_ms_p50": round(float(np.percentile(cpu, 50)), 2),
            "recall_at_10": round(recall(found, exact_ids(store, space, queries, cache, **filters)), 4),
        }
        print(f"  {name}: {result[name]}", flush=True)
    result |= rss_mb() | {"load_average_after": round(os.getloadavg()[0], 2)}
    return result


def results_path(args) -> Path:
    return Path(args.out) / (f"store_search-{args.rows}" + ("-uniform" if args.uniform else ""))


def previous(args) -> dict:
    path = results_path(args).with_suffix(".json")
    if not args.reuse or not path.exists():
        return {}
    old = json.loads(path.read_text())["results"]
    keep = ["ingest_rows_per_s"] + (["index"] if args.measure_only else [])
    return {k: old[k] for k in keep if k in old}


def markdown(report: dict) -> str:
    p, r = report["params"], report["results"]
    lines = [
        f"# Store search: {p['rows']:,} random unit {p['dim']}-d vectors "
        f"({'uniform' if p['uniform'] else f'{LATENT}-d latent'}, {p['index_type']})",
        "",
        f"Index: {r['index'].get('index_type')}, partitions={r['index'].get('num_partitions')}, "
        f"sub_vectors={r['index'].get('num_sub_vectors')}, m={r['index'].get('m')}, "
        f"ef_construction={r['index'].get('ef_construction')}; query: nprobes={p['nprobes']} (filtered: twice), "
        f"refine_factor={p['refine_factor']}, ef={p['ef'] or 'default'}; "
        f"built (+ optimize) in {r['index']['build_s']} s, {r['index'].get('on_disk_mb')} MB on disk. "
        f"Machine: {report['machine']}.",
        "",
        "| query | p50 ms | p99 ms | CPU ms/query (p50) | recall@10 |",
        "|---|---|---|---|---|",
    ]
    for name in ("no_filter", "topic_filter"):
        q = r[name]
        lines.append(
            f"| {name.replace('_', ' ')} | {q['p50_ms']} | {q['p99_ms']} | {q['cpu_ms_p50']} | {q['recall_at_10']} |"
        )
    lines += [
        "",
        f"- ingest (raw batches): {r.get('ingest_rows_per_s', 0):,.0f} rows/s; through upsert: "
        f"{r['upsert_docs_per_s']:,.0f} docs/s",
        f"- open-to-ready: {r['open_to_ready_s']} s; RSS {r['rss_mb']} MB (peak {r['peak_rss_mb']} MB)",
        f"- 1-min load average (2 cores, other jobs running): {r['load_average_before']} before, "
        f"{r['load_average_after']} after",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=50, help="queries run before the measured ones")
    parser.add_argument("--uniform", action="store_true", help="structureless vectors (ANN worst case)")
    shipped = Settings()  # every index and query knob defaults to the shipped settings
    parser.add_argument("--index-type", default=shipped.ann_index_type, choices=get_args(AnnIndexType))
    parser.add_argument("--partitions", type=int, default=shipped.ann_partitions)
    parser.add_argument("--sub-vectors", type=int, default=shipped.ann_sub_vectors)
    parser.add_argument("--m", type=int, default=shipped.ann_m)
    parser.add_argument("--ef-construction", type=int, default=shipped.ann_ef_construction)
    parser.add_argument("--nprobes", type=int, default=shipped.ann_nprobes)
    parser.add_argument("--refine-factor", type=int, default=shipped.ann_refine_factor)
    parser.add_argument("--ef", type=int, default=shipped.ann_ef)
    parser.add_argument("--exact-filter-rows", type=int, default=Settings().exact_filter_rows)
    parser.add_argument("--dir", default="", help="table directory (default: a temp dir, removed after)")
    parser.add_argument("--reuse", action="store_true", help="--dir already holds the table: only index + measure")
    parser.add_argument("--measure-only", action="store_true", help="with --reuse: keep the existing index")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    space = EmbeddingSpace(model="random-unit", dim=args.dim)
    vectors = Vectors(args.dim, args.uniform)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.dir or tmp
        store = DocumentStore(path, settings=settings_from(args), background=False)
        results: dict = {}
        if not args.reuse:
            store.bind(space)
            results["ingest_rows_per_s"] = round(ingest(store, args.rows, vectors, args.batch, rng), 1)
        results |= previous(args)  # --reuse: ingest (and with --measure-only, index) numbers of the full run
        if not args.measure_only:  # what the writer's background thread does: index, then optimize()
            started = time.perf_counter()
            params = store.maintenance.build_index()
            store.maintenance.optimize()
            results["index"] = {
                "build_s": round(time.perf_counter() - started, 1),
                "on_disk_mb": vector_index_mb(store.table),
            } | {k: params.get(k) for k in ("index_type", "num_partitions", "num_sub_vectors", "m", "ef_construction")}
            print(f"  index built: {results['index']}", flush=True)
        results["upsert_docs_per_s"] = round(upsert_rate(store, space, vectors, rng), 1)  # on the indexed table
        # Folded into the index as the writer's background optimize() does: 1,280 unindexed rows
        # (searched flat and merged by LanceDB) cost ~14 ms CPU per query at 1M (docs/store.md).
        store.maintenance.optimize()
        del store
        results |= measure(path, args, space, vectors, rng)
    report = {
        "params": vars(args) | {"index_type": args.index_type},
        "results": results,
        "machine": f"{os.cpu_count()} CPUs (shared with other jobs), niced",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = results_path(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    path.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
