"""Bulk loading: `python -m topicserve backfill` (Ray Data) against HTTP ingest (`python -m topicserve
ingest`), N documents each, on the same local Ray and the same deployed app.

    python -m bench.backfill --n 2000        # AG News first sentences (../shared/data/ag_news_test.jsonl)

Both paths run the same model and topic model and commit through the same State deployment; the
result (docs/s of each, and their ratio) goes to bench/results/backfill-<time>.json. Ray runs under
the shared lock, like every bench here.
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--batch-size", type=int, default=256, help="backfill embedding batch")
    args = parser.parse_args(argv)
    texts = short_texts(args.n)
    BUILD.mkdir(parents=True, exist_ok=True)
    http_file = write_docs(BUILD / "backfill-http.jsonl", "http", texts)
    bulk_file = write_docs(BUILD / "backfill-bulk.jsonl", "bulk", texts)
    with ray_lock():
        url = deploy(ServiceConfig(), args.port)
        gcs = json.loads((ROOT / "build" / "localrun.json").read_text())["gcs_address"]
        http_s = timed(
            [sys.executable, "-m", "topicserve", "ingest", str(http_file), "--url", url, "--batch-size", "64"]
        )
        # --num-cpus 0.1: logical CPUs; the (idle during the backfill) service holds the rest.
        bulk = ["backfill", str(bulk_file), "--address", gcs, "--batch-size", str(args.batch_size)]
        bulk_s = timed(
            [sys.executable, "-m", "topicserve", *bulk, "--commit-size", "512", "--quiet", "--num-cpus", "0.1"]
        )
    result = {
        "n": args.n,
        "http_ingest_docs_per_s": round(args.n / http_s, 1),
        "backfill_docs_per_s": round(args.n / bulk_s, 1),
        "backfill_over_http": round(http_s / bulk_s, 2),
        "note": "backfill time includes ray.init, the actor pool's model load and Ray Data start-up",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = ROOT / "bench" / "results" / f"backfill-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
