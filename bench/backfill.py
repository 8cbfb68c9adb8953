"""Bulk loading: `python -m topicserve backfill` (Ray Data) against HTTP ingest (`python -m topicserve
ingest`), on the same local Ray and the same deployed app, in one run.

    python -m bench.backfill --n 100000 --http-n 3000   # AG News first sentences, repeated, distinct ids

HTTP ingest at ~40-160 docs/s would take 10-40 minutes for 100,000 documents, so it is measured on
a sample (``--http-n``) and backfill on the whole ``--n``; both commit through the same State
deployment with the same model and topic model. The result (docs/s of each, the ratio, the load
average before and after, and where backfill's time went: start-up, waiting for Ray Data's
embedded batches, tagging, committing, Ray Data's per-operator stats) goes to
bench/results/backfill-<time>.json. Texts: ../shared/data/ag_news_test.jsonl. Ray runs under the
shared lock, like every bench here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.service import BUILD, ROOT, ServiceConfig, deploy, ray_lock
from bench.texts import short_texts


def write_docs(path: Path, prefix: str, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"id": f"{prefix}-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - start


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def measure(args: argparse.Namespace, http_file: Path, bulk_file: Path, stats: Path) -> dict:
    url = deploy(ServiceConfig(), args.port)
    gcs = json.loads((ROOT / "build" / "localrun.json").read_text())["gcs_address"]
    ingest = ["ingest", str(http_file), "--url", url, "--batch-size", "64"]
    http_s = timed([sys.executable, "-m", "topicserve", *ingest])
    # --num-cpus 0.1: logical CPUs; the (idle during the backfill) service holds the rest.
    bulk = ["backfill", str(bulk_file), "--address", gcs, "--batch-size", str(args.batch_size)]
    bulk += ["--commit-size", "512", "--quiet", "--num-cpus", "0.1", "--stats", str(stats)]
    bulk_s = timed([sys.executable, "-m", "topicserve", *bulk])
    return {"http_s": http_s, "bulk_s": bulk_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="documents through backfill")
    parser.add_argument("--http-n", type=int, default=3_000, help="documents through HTTP ingest (a sample)")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--batch-size", type=int, default=256, help="backfill embedding batch")
    args = parser.parse_args(argv)
    BUILD.mkdir(parents=True, exist_ok=True)
    http_file = write_docs(BUILD / "backfill-http.jsonl", "http", short_texts(args.http_n))
    bulk_file = write_docs(BUILD / "backfill-bulk.jsonl", "bulk", short_texts(args.n))
    stats = BUILD / "backfill-stats.json"
    with ray_lock():
        load_before = load()
        times = measure(args, http_file, bulk_file, stats)
        load_after = load()
    http_rate, bulk_rate = args.http_n / times["http_s"], args.n / times["bulk_s"]
    breakdown = json.loads(stats.read_text())
    result = {
        "backfill_n": args.n,
        "http_n": args.http_n,
        "http_ingest_docs_per_s": round(http_rate, 1),
        "backfill_docs_per_s": round(bulk_rate, 1),
        "backfill_over_http": round(bulk_rate / http_rate, 2),
        "backfill_s": round(times["bulk_s"], 1),
        "http_s": round(times["http_s"], 1),
        "backfill_time": {k: v for k, v in breakdown.items() if k != "ray_data"},
        "ray_data_stats": breakdown["ray_data"].splitlines(),
        "load_avg_1_5_15": {"before": load_before, "after": load_after},
        "cpus": os.cpu_count(),
        "note": "HTTP on a sample (--http-n), backfill on all --n; backfill time includes the CLI's "
        "Python start-up, ray.init, the actor's model load and Ray Data start-up (backfill_time.startup_s "
        "and the first wait); the CPU is shared with other work (load_avg)",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = ROOT / "bench" / "results" / f"backfill-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "ray_data_stats"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
