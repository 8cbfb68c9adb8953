"""The headline: issue 11's targets against this run's ratios (min–max over the runs)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import infinity_rate, spread

STORE_BENCH = Path(__file__).with_name("results") / "store_search-1000000.json"


def _find(run: dict, **match) -> dict | None:
    for row in run["rows"]:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def annotate(run: dict) -> dict:
    """Reference rates of this run: raw torch encode on all cores, and Infinity."""
    st = [r for r in run["rows"] if r["peer"].startswith("sentence-transformers")]
    run["reference"] = max((r["texts_per_s"] for r in st), default=None)
    inf = [r for r in run["rows"] if r["peer"].startswith("Infinity")]
    run["infinity"] = inf[0]["texts_per_s"] if inf else None  # float JSON
    run["infinity_by_encoding"] = {r.get("encoding", "float"): r["texts_per_s"] for r in inf}
    int8 = [r for r in run["rows"] if r["kind"] == "raw" and r["backend"] == "onnx-int8"]
    run["raw_int8"] = max((r["texts_per_s"] for r in int8), default=None)
    openvino = [r for r in run["rows"] if r["kind"] == "raw" and r["backend"] == "openvino"]
    run["raw_openvino"] = max((r["texts_per_s"] for r in openvino), default=None)
    run["raw_p50"] = {b: min((r["p50_ms"] for r in run["rows"] if r["kind"] == "raw" and r["backend"] == b),
                             default=None) for b in ("torch", "onnx-int8", "openvino")}  # fmt: skip
    return run


def _service_ratios(runs: list[dict], backend: str) -> tuple[list[float], list[float], list[float]]:
    """Best service row of ``backend`` per run: × raw (same backend), × Infinity, p50 overhead (ms)."""
    vs_raw, vs_inf, overhead = [], [], []
    for run in runs:
        rows = [r for r in run["rows"] if r["kind"] == "http" and r.get("backend") == backend and "replicas" in r]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["texts_per_s"])
        raw = {"torch": run["reference"], "openvino": run.get("raw_openvino")}.get(backend, run["raw_int8"])
        if raw:
            vs_raw.append(best["texts_per_s"] / raw)
        infinity = infinity_rate(run, best)
        if infinity:
            vs_inf.append(best["texts_per_s"] / infinity)
        if run["raw_p50"].get(backend) is not None:
            overhead.append(min(r["p50_ms"] for r in rows) - run["raw_p50"][backend])
    return vs_raw, vs_inf, overhead


def lines(result: dict) -> list[str]:
    runs = result["runs"]
    out = ["## Targets (issue 11)", "", "| target | measured (min–max over runs) | goal |", "|---|---|---|"]
    int8 = [r["raw_int8"] / r["reference"] for r in runs if r.get("raw_int8") and r.get("reference")]
    out.append(f"| ONNX int8 vs raw torch fp32, in-process | {spread(int8, '{:.2f}×')} | ≥ 2.5× |")
    ov = [r["raw_openvino"] / r["reference"] for r in runs if r.get("raw_openvino") and r.get("reference")]
    if ov:
        out.append(f"| OpenVINO (bf16 on AMX) vs raw torch fp32, in-process | {spread(ov, '{:.2f}×')} | ≥ 2.5× |")
    for backend in ("torch", "onnx-int8", "openvino"):
        vs_raw, vs_inf, overhead = _service_ratios(runs, backend)
        what = f"`/v1/embeddings` ({backend}, best size)"
        if vs_raw:
            out.append(f"| {what} vs raw {backend} | {spread(vs_raw, '{:.2f}×')} | ≥ 0.9× |")
        if vs_inf:
            out.append(f"| {what} vs Infinity | {spread(vs_inf, '{:.2f}×')} | ≥ 1.2× |")
        if overhead:
            out.append(f"| single-text overhead over raw ({backend}), p50 | {spread(overhead, '{:.1f} ms')} | ≤ 5 ms |")
    q = result.get("quality", {}).get("test")
    if q:
        out.append(f"| int8 mean cosine to fp32 (1,000 test texts) | {q['mean_cosine']:.4f} | ≥ 0.99 |")
        out.append(f"| int8 AG News accuracy drop (rows 2000+) | {q['accuracy_drop_pt']:.2f} pt | ≤ 0.5 pt |")
    if q and "openvino" in q:
        ov_q = q["openvino"]
        out.append(f"| openvino mean cosine to fp32 (1,000 test texts) | {ov_q['mean_cosine']:.4f} | ≥ 0.99 |")
        out.append(f"| openvino AG News accuracy drop (rows 2000+) | {ov_q['accuracy_drop_pt']:.2f} pt | ≤ 0.5 pt |")
    return out + search_lines() + deploy_lines(result)


def search_lines() -> list[str]:
    """From the store bench's last 1M run (`make bench-store`: 200 s of index build, not repeated here)."""
    if not STORE_BENCH.exists():
        return []
    r = json.loads(STORE_BENCH.read_text())["results"]["no_filter"]
    return [
        f"| `/search` index lookup at 1,000,000 vectors, p50 (store bench, {STORE_BENCH.name}) "
        f"| {r['p50_ms']:.1f} ms | ≤ 30 ms |",
        f"| recall@10 vs exact at 1,000,000 | {r['recall_at_10']:.3f} | ≥ 0.95 |",
    ]


def deploy_lines(result: dict) -> list[str]:
    out = []
    cold = [run["coldstart"]["readyz_200_s"] for run in result["runs"] if run.get("coldstart", {}).get("readyz_200_s")]
    if cold:
        out.append(f"| `serve deploy` of the zip → `/readyz` 200, cold | {spread(cold, '{:.1f} s')} | ≤ 20 s |")
    ingest = [r["ingest"] for run in result["runs"] for r in run["rows"] if r.get("ingest")]
    if ingest:
        rate = spread([i["docs_per_s"] for i in ingest])
        share = spread([100 * i["embed_share"] for i in ingest], "{:.0f}%")
        out.append(f"| ingest, `POST /documents` batches of 64 | {rate} docs/s ({share} of it embedding) | report |")
    fp = result.get("footprint")
    if fp:
        disk, pull = fp["image_estimate_mb"] / 1000, fp["image_estimate_pull_mb"] / 1000
        out.append(
            f"| CPU image with the model (estimate: base + runtime venv) | {disk:.2f} GB on disk, "
            f"{pull:.2f} GB to pull | ≤ 1.5 GB |"
        )
        minutes = fp["make_test"]["make_test_s"] / 60
        out.append(f"| `make test`, fresh 2-core machine, install included | {minutes:.1f} min (last CI) | ≤ 12 min |")
    return out
