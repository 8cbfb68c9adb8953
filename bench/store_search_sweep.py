"""Sweep LanceDB's vector index types on one table: build time, size, latency and recall@10.

    nice .venv/bin/python bench/store_search_sweep.py --rows 1000000 --dir /tmp/sweep-1m \
        --index "IVF_PQ:partitions=1000,sub_vectors=48" --query "IVF_PQ:nprobes=40,refine_factor=20" ...

The table (the vectors of bench/store_search.py: random, 32-d latent, 20 topics) is written and
compacted once into ``--dir`` and reused by every run: each index variant replaces the vector index
(``create_index(replace=True)``) and is measured in a fresh process (clean RSS and index cache)
through the shipped query code (topicserve.store.search.run_search with the variant's Settings).
Exact top-10s come from numpy over the stored vectors, once, cached in ``--dir``.
Per query setting: p50/p99 ms and recall@10 with no filter, with a topic filter (~5 % of rows,
prefiltered as the store does, and postfiltered for comparison), and time-range filters of growing
size answered by the index and exactly (where ``exact_filter_rows`` should sit).
Results: bench/results/store_search-sweep-<rows>.json and .md (appended per index variant).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.store_search import T0, TOPICS, Vectors, ingest, recall, rss_mb, vector_index_mb
from topicserve.settings import Settings
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore
from topicserve.store.query import where
from topicserve.store.search import SearchOptions, run_search

ROOT = Path(__file__).resolve().parents[1]
SPACE = EmbeddingSpace(model="random-unit", dim=384)
TOPIC = TOPICS[3]
RANGES = (2_000, 10_000, 50_000)  # rows matched by a `since` filter (timestamps are T0 + row seconds)


def parse(spec: str) -> tuple[str, dict[str, int]]:
    """ "IVF_PQ:partitions=1000,sub_vectors=48" -> ("IVF_PQ", {"partitions": 1000, "sub_vectors": 48})"""
    kind, _, rest = spec.partition(":")
    return kind, {k: int(v) for k, v in (p.split("=") for p in rest.split(",") if p)}


# ---- the table and the exact answers (once per --dir) ----------------------------------------------
def prepare(path: Path, rows: int, queries: int) -> None:
    if (path / "truth.json").exists():
        return
    store = DocumentStore(str(path), settings=Settings(ann_threshold=10**9), background=False)
    store.bind(SPACE)
    rate = ingest(store, rows, Vectors(SPACE.dim, uniform=False), 50_000, np.random.default_rng(0))
    started = time.perf_counter()
    store.table.optimize()
    print(f"  ingest {rate:,.0f} rows/s; compaction {time.perf_counter() - started:.1f}s", flush=True)
    data = store.table.to_lance().to_table(columns=["id", "vector", "topic_labels"]).combine_chunks()
    ids = np.asarray(data["id"].to_pylist())
    order = np.argsort(ids)  # row i is id v{i:08d}; the stored order after compaction may differ
    vectors = data["vector"].combine_chunks().flatten().to_numpy().reshape(-1, SPACE.dim)[order]
    topical = np.asarray([TOPIC in labels for labels in data["topic_labels"].to_pylist()])[order]
    ids = ids[order]
    q = Vectors(SPACE.dim, uniform=False)(np.random.default_rng(1), queries)
    truth = {"no_filter": top10(vectors, q, ids), "topic": top10(vectors, q, ids, topical)}
    for n in RANGES:
        truth[f"since_{n}"] = top10(vectors, q, ids, np.arange(len(ids)) >= len(ids) - n)
    (path / "truth.json").write_text(json.dumps(truth))


def top10(vectors: np.ndarray, queries: np.ndarray, ids: np.ndarray, mask: np.ndarray | None = None):
    keep = np.flatnonzero(mask) if mask is not None else np.arange(len(ids))
    scores = queries @ vectors[keep].T
    best = np.argsort(-scores, axis=1)[:, :10]
    return [ids[keep][row].tolist() for row in best]


# ---- one index variant ------------------------------------------------------------------------------
def build(path: Path, kind: str, params: dict[str, int]) -> dict:
    import lancedb

    table = lancedb.connect(str(path)).open_table("documents")
    kwargs = {"metric": "cosine", "vector_column_name": "vector", "index_type": kind, "replace": True}
    kwargs |= {"num_partitions": params.get("partitions"), "num_sub_vectors": params.get("sub_vectors")}
    kwargs |= {k: params[k] for k in ("m", "ef_construction", "num_bits") if k in params}
    started = time.perf_counter()
    table.create_index(**{k: v for k, v in kwargs.items() if v is not None})
    seconds = time.perf_counter() - started
    table.cleanup_old_versions(older_than=timedelta(0), delete_unverified=True)  # drop the replaced index
    return {"build_s": round(seconds, 1), "vector_index_mb": vector_index_mb(table)}


def query_settings(kind: str, q: dict[str, int], exact_filter_rows: int = 0) -> Settings:
    return Settings(
        ann_threshold=1,
        ann_index_type="IVF_PQ",  # only the query knobs below are read by run_search
        ann_nprobes=q.get("nprobes", 20),
        ann_refine_factor=q.get("refine_factor", 0),
        ann_ef=q.get("ef", 0),
        exact_filter_rows=exact_filter_rows,
    )


def timed(table, queries, options: SearchOptions, settings: Settings, postfilter: bool = False):
    def one(v):
        if not postfilter:
            return [d.id for d, _ in run_search(table, v, options, settings)]
        query = table.search(v, vector_column_name="vector").distance_type("cosine").nprobes(settings.ann_nprobes)
        query = query.where(options.where, prefilter=False).select(["id"]).limit(options.k)
        if settings.ann_refine_factor:
            query = query.refine_factor(settings.ann_refine_factor)
        if settings.ann_ef:
            query = query.ef(settings.ann_ef)
        return query.to_arrow()["id"].to_pylist()

    for v in queries[:5]:
        one(v)
    found, ms, cpu = [], [], []
    for v in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        found.append(one(v))
        ms.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)  # all threads; less sensitive to other jobs
    return found, np.asarray(ms), np.asarray(cpu)


def summary(found, ms, cpu, truth) -> dict:
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "cpu_ms_p50": round(float(np.percentile(cpu, 50)), 1),
        "recall_at_10": round(recall(found, truth), 3),
    }


def measure(path: Path, kind: str, qspecs: list[str], queries_n: int, filters: bool) -> dict:
    """Runs in a fresh process: every query setting of one index, then the process's RSS."""
    import lancedb

    base = rss_mb()["rss_mb"]
    table = lancedb.connect(str(path)).open_table("documents")
    truth = json.loads((path / "truth.json").read_text())
    queries = Vectors(SPACE.dim, uniform=False)(np.random.default_rng(1), queries_n)
    out = {"rss_before_open_mb": base, "queries": {}}
    for spec in qspecs:
        q = parse(spec)[1]
        s = query_settings(kind, q)
        rows = {"no_filter": summary(*timed(table, queries, SearchOptions(k=10), s), truth["no_filter"])}
        if filters:
            topic = SearchOptions(k=10, where=where(topic=TOPIC))
            rows["topic_prefilter"] = summary(*timed(table, queries, topic, s), truth["topic"])
            rows["topic_postfilter"] = summary(*timed(table, queries, topic, s, postfilter=True), truth["topic"])
        out["queries"][spec] = rows
        print(f"    {spec}: {json.dumps(rows)}", flush=True)
    if filters:
        out["ranges"] = ranges(table, queries, query_settings(kind, parse(qspecs[0])[1]), truth)
    return out | rss_mb()


def ranges(table, queries, s: Settings, truth) -> dict:
    """`since` filters matching 2k/10k/50k rows: the index (prefilter) vs an exact scan of the matches."""
    rows = table.count_rows()
    out = {}
    for n in RANGES:
        options = SearchOptions(k=10, where=where(since=T0 + timedelta(seconds=rows - n)))
        ann = summary(*timed(table, queries[:30], options, s), truth[f"since_{n}"][:30])
        exact = summary(
            *timed(table, queries[:30], options.model_copy(update={"exact": True}), s), truth[f"since_{n}"][:30]
        )
        started = time.perf_counter()
        for _ in range(10):
            table.count_rows(options.where)
        out[n] = {"ann": ann, "exact": exact, "count_rows_ms": round((time.perf_counter() - started) * 100, 1)}
        print(f"    since {n}: {json.dumps(out[n])}", flush=True)
    return out


# ---- driver -------------------------------------------------------------------------------------------
def run_variant(args, spec: str, qspecs: list[str]) -> dict:
    kind, params = parse(spec)
    print(f"== {spec}", flush=True)
    built = build(Path(args.dir), kind, params)
    print(f"  built: {built}", flush=True)
    cmd = [sys.executable, __file__, "--child", "--dir", args.dir, "--queries", str(args.queries), "--kind", kind]
    cmd += ["--query", *qspecs] + (["--filters"] if args.filters else [])
    child = subprocess.run(cmd, check=True, capture_output=True, text=True)
    sys.stdout.write("\n".join(line for line in child.stdout.splitlines() if line.startswith("    ")) + "\n")
    return {"index": spec, **built, **json.loads(child.stdout.splitlines()[-1])}


def markdown(report: dict) -> str:
    lines = [
        f"# Vector index sweep: {report['rows']:,} random unit 384-d vectors (32-d latent)",
        "",
        f"{report['machine']}. recall@10 vs exact (numpy) on {report['queries']} queries; topic filter keeps ~5 %.",
        "",
        "| index | build s | vector index MB | RSS MB | query | p50 ms | p99 ms | CPU ms | recall@10 "
        "| topic pre: p50 (CPU) / recall | topic post: p50 (CPU) / recall | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def size(v: dict) -> str:  # runs before the vector index alone was measured: every index of the table
        return str(v["vector_index_mb"]) if "vector_index_mb" in v else f"{v['indices_on_disk_mb']} (all indices)"

    def cell(r: dict | None) -> str:
        return f"{r['p50_ms']} ({r['cpu_ms_p50']}) / {r['recall_at_10']}" if r else "-"

    for v in report["variants"]:
        for spec, q in v["queries"].items():
            pre, post = cell(q.get("topic_prefilter")), cell(q.get("topic_postfilter"))
            lines.append(
                f"| {v['index']} | {v['build_s']} | {size(v)} "
                f"| {v['rss_mb']} "
                f"| {spec.split(':', 1)[-1]} "
                f"| {q['no_filter']['p50_ms']} | {q['no_filter']['p99_ms']} | {q['no_filter']['cpu_ms_p50']} "
                f"| {q['no_filter']['recall_at_10']} "
                f"| {pre} | {post} | {v['load']} |"
            )
    for v in report["variants"]:
        for n, r in v.get("ranges", {}).items():
            lines.append(
                f"- {v['index']}: `since` filter of {int(n):,} rows: index {r['ann']['p50_ms']} ms "
                f"(recall {r['ann']['recall_at_10']}), exact {r['exact']['p50_ms']} ms, "
                f"count_rows {r['count_rows_ms']} ms"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", required=True, help="the table directory, kept between runs")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--index", nargs="*", default=[], help="KIND:partitions=..,sub_vectors=..,m=..")
    parser.add_argument(
        "--query", nargs="*", default=[], help="KIND:nprobes=..,refine_factor=..,ef=.. (KIND matches --index)"
    )
    parser.add_argument("--filters", action="store_true", help="also the topic and time-range filters")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.dir), args.kind, args.query, args.queries, args.filters)))
        return
    prepare(Path(args.dir), args.rows, args.queries)
    out = Path(args.out) / f"store_search-sweep-{args.rows}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = (
        json.loads(out.read_text()) if out.exists() else {"rows": args.rows, "queries": args.queries, "variants": []}
    )
    report["machine"] = f"{os.cpu_count()} CPUs shared with other jobs, niced"
    for spec in args.index:
        kind = parse(spec)[0]
        qspecs = [q for q in args.query if parse(q)[0] == kind]
        variant = run_variant(args, spec, qspecs) | {"load": round(os.getloadavg()[0], 1)}
        report["variants"] = [v for v in report["variants"] if v["index"] != spec] + [variant]
        out.write_text(json.dumps(report, indent=2) + "\n")
        out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
