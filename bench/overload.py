"""Overload of `/v1/embeddings`: capacity, then 4x capacity for 30 s, then a few huge requests.

    make run                      # or any running topicserve
    .venv/bin/python bench/overload.py --url http://127.0.0.1:8000 --label after

1. Capacity: closed loop, ``--concurrency`` callers sending 16 short texts each, for ``--probe-s``.
2. Overload: open-loop arrivals (a fixed rate, whatever the server answers) at ``--factor`` x
   capacity for ``--duration-s``; at most ``--max-in-flight`` requests are open at once, arrivals
   beyond that are counted as ``client_dropped`` (the bound keeps the load generator honest on 2 cores).
   Reports accepted p50/p99, rejections by status (and whether they were JSON with Retry-After),
   errors, and time-to-reject p50/p99.
3. Huge requests: six requests of 256 long texts at once, then one small request; reports each
   status and latency (what a small caller waits behind a few huge ones).

Writes bench/results/overload-<label>.json and .md. Texts come from the AG News test set at
../shared/data/ag_news_test.jsonl (relative to the repo root) when present, else the demo corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AG_NEWS = ROOT.parent / "shared" / "data" / "ag_news_test.jsonl"
DEMO = ROOT / "topicserve" / "data" / "demo_corpus.jsonl"
RESULTS = ROOT / "bench" / "results"


def load_texts() -> list[str]:
    source = AG_NEWS
    if not source.exists():
        print(f"{AG_NEWS} not found: using the demo corpus (fewer distinct texts)", file=sys.stderr)
        source = DEMO
    return [json.loads(line)["text"] for line in source.read_text().splitlines() if line.strip()]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def post(client: httpx.AsyncClient, url: str, texts: list[str], timeout: float) -> dict:
    start = time.perf_counter()
    try:
        resp = await client.post(f"{url}/v1/embeddings", json={"input": texts}, timeout=timeout)
    except httpx.HTTPError as exc:
        return {"status": None, "error": type(exc).__name__, "latency_s": time.perf_counter() - start}
    is_json = resp.headers.get("content-type", "").startswith("application/json")
    return {
        "status": resp.status_code,
        "latency_s": time.perf_counter() - start,
        "json": is_json,
        "retry_after": resp.headers.get("retry-after"),
        "code": (resp.json().get("error") or {}).get("code") if is_json and resp.status_code >= 400 else None,
    }


async def capacity(client, url: str, texts: list[str], concurrency: int, seconds: float) -> float:
    """Requests/s of 16 short texts that ``concurrency`` closed-loop callers get answered (200)."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller(i: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            batch = texts[(i * 16) % len(texts) :][:16] or texts[:16]
            if (await post(client, url, batch, 120))["status"] == 200:
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    return done / (time.perf_counter() - start)


async def open_loop(client, url: str, texts: list[str], rate: float, seconds: float, max_in_flight: int) -> dict:
    """Arrivals every 1/rate s for ``seconds``, whatever the answers; returns every outcome."""
    tasks: list[asyncio.Task] = []
    dropped = 0
    start = time.perf_counter()
    n = int(rate * seconds)
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        if sum(not t.done() for t in tasks[-max_in_flight:]) >= max_in_flight:
            dropped += 1
            continue
        batch = texts[(i * 16) % len(texts) :][:16] or texts[:16]
        tasks.append(asyncio.create_task(post(client, url, batch, 300)))
    results = await asyncio.gather(*tasks)
    return {"offered": n, "client_dropped": dropped, "wall_s": time.perf_counter() - start, "results": list(results)}


def summarize(run: dict) -> dict:
    results = run["results"]
    ok = [r["latency_s"] for r in results if r["status"] == 200]
    rejected = [r for r in results if r["status"] in (429, 503)]
    by_status: dict[str, int] = {}
    for r in results:
        key = str(r["status"] if r["status"] is not None else r["error"])
        by_status[key] = by_status.get(key, 0) + 1
    reject_times = [r["latency_s"] for r in rejected]
    return {
        "offered": run["offered"],
        "client_dropped": run["client_dropped"],
        "accepted": len(ok),
        "accepted_p50_s": percentile(ok, 50),
        "accepted_p99_s": percentile(ok, 99),
        "accepted_over_30s": sum(t > 30 for t in ok),
        "rejected": len(rejected),
        "rejected_json_with_retry_after": sum(bool(r["json"] and r["retry_after"]) for r in rejected),
        "reject_p50_s": percentile(reject_times, 50),
        "reject_p99_s": percentile(reject_times, 99),
        "errors": len(results) - len(ok) - len(rejected),
        "by_status": by_status,
    }


async def huge_then_small(client, url: str, texts: list[str]) -> dict:
    long_text = " ".join(texts[:40])  # far past the model's 256 tokens: the worst case per text
    huge = [asyncio.create_task(post(client, url, [long_text] * 256, 300)) for _ in range(6)]
    await asyncio.sleep(0.5)
    small = await post(client, url, texts[:1], 300)
    return {"huge": [dict(r) for r in await asyncio.gather(*huge)], "small": small}


def markdown(report: dict) -> str:
    o, h = report["overload"], report["huge_then_small"]

    def s(v):
        return "-" if v is None else f"{v:.3f}"

    lines = [
        f"# Overload of /v1/embeddings ({report['label']})",
        "",
        f"- capacity: {report['capacity_rps']:.1f} requests/s of 16 short texts "
        f"({report['concurrency']} closed-loop callers)",
        f"- offered: {report['factor']}x = {report['offered_rps']:.1f} requests/s for {report['duration_s']} s "
        f"({o['offered']} requests, {o['client_dropped']} not sent: {report['max_in_flight']} already open)",
        "",
        "| accepted | p50 s | p99 s | > 30 s | rejected | JSON + Retry-After | reject p50 s | reject p99 s | errors |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {o['accepted']} | {s(o['accepted_p50_s'])} | {s(o['accepted_p99_s'])} | {o['accepted_over_30s']} "
        f"| {o['rejected']} | {o['rejected_json_with_retry_after']} | {s(o['reject_p50_s'])} "
        f"| {s(o['reject_p99_s'])} | {o['errors']} |",
        "",
        f"by status: {json.dumps(o['by_status'])}",
        "",
        "## Six requests of 256 long texts, then one small request",
        "",
        "| request | status | seconds | JSON | Retry-After |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate([*h["huge"], h["small"]]):
        name = "small" if i == len(h["huge"]) else f"huge {i + 1}"
        status = r["status"] or r.get("error")
        lines.append(f"| {name} | {status} | {r['latency_s']:.2f} | {r.get('json')} | {r.get('retry_after')} |")
    return "\n".join(lines) + "\n"


async def run(args) -> dict:
    texts = load_texts()
    limits = httpx.Limits(max_connections=args.max_in_flight + 16, max_keepalive_connections=64)
    async with httpx.AsyncClient(limits=limits) as client:
        (await client.get(f"{args.url}/readyz", timeout=30)).raise_for_status()
        await post(client, args.url, texts[:16], 120)  # warm-up
        cap = await capacity(client, args.url, texts, args.concurrency, args.probe_s)
        print(f"capacity: {cap:.1f} requests/s", file=sys.stderr)
        rate = args.factor * cap
        over = await open_loop(client, args.url, texts, rate, args.duration_s, args.max_in_flight)
        await asyncio.sleep(args.settle_s)
        huge = await huge_then_small(client, args.url, texts)
    return {
        "label": args.label,
        "url": args.url,
        "concurrency": args.concurrency,
        "capacity_rps": cap,
        "factor": args.factor,
        "offered_rps": rate,
        "duration_s": args.duration_s,
        "max_in_flight": args.max_in_flight,
        "overload": summarize(over),
        "huge_then_small": huge,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--label", default="run", help="name of this run in bench/results/ (e.g. before, after)")
    parser.add_argument("--concurrency", type=int, default=4, help="closed-loop callers for the capacity probe")
    parser.add_argument("--probe-s", type=float, default=15)
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--duration-s", type=float, default=30)
    parser.add_argument("--max-in-flight", type=int, default=1000)
    parser.add_argument("--settle-s", type=float, default=5, help="pause between the overload and the huge requests")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"overload-{args.label}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (RESULTS / f"overload-{args.label}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
