"""The headline: issue 11's targets against this run's ratios (min–max over the runs)."""

from __future__ import annotations

from bench.report import spread


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
    run["infinity"] = inf[0]["texts_per_s"] if inf else None
    int8 = [r for r in run["rows"] if r["kind"] == "raw" and r["backend"] == "onnx-int8"]
    run["raw_int8"] = max((r["texts_per_s"] for r in int8), default=None)
    run["raw_p50"] = {b: min((r["p50_ms"] for r in run["rows"] if r["kind"] == "raw" and r["backend"] == b),
                             default=None) for b in ("torch", "onnx-int8")}  # fmt: skip
    return run


def _service_ratios(runs: list[dict], backend: str) -> tuple[list[float], list[float], list[float]]:
    """Best service row of ``backend`` per run: × raw (same backend), × Infinity, p50 overhead (ms)."""
    vs_raw, vs_inf, overhead = [], [], []
    for run in runs:
        rows = [r for r in run["rows"] if r["kind"] == "http" and r.get("backend") == backend and "replicas" in r]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["texts_per_s"])
        raw = run["reference"] if backend == "torch" else run["raw_int8"]
        if raw:
            vs_raw.append(best["texts_per_s"] / raw)
        if run["infinity"]:
            vs_inf.append(best["texts_per_s"] / run["infinity"])
        if run["raw_p50"].get(backend) is not None:
            overhead.append(min(r["p50_ms"] for r in rows) - run["raw_p50"][backend])
    return vs_raw, vs_inf, overhead


def lines(result: dict) -> list[str]:
    runs = result["runs"]
    out = ["## Targets (issue 11)", "", "| target | measured (min–max over runs) | goal |", "|---|---|---|"]
    int8 = [r["raw_int8"] / r["reference"] for r in runs if r.get("raw_int8") and r.get("reference")]
    out.append(f"| ONNX int8 vs raw torch fp32, in-process | {spread(int8, '{:.2f}×')} | ≥ 2.5× |")
    for backend in ("torch", "onnx-int8"):
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
    return out
