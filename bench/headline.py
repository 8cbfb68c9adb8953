"""The headline: issue 11's targets against this run's ratios (min–max over the runs)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import infinity_rate, spread

STORE_BENCH = Path(__file__).with_name("results") / "store_search-1000000.json"
SERVICE_BACKENDS = ("torch", "onnx-int8", "openvino", "openvino-int8")


def _find(run: dict, **match) -> dict | None:
    for row in run["rows"]:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


# Why a target is missed and the next lever, as measured (docs/performance.md, "Targets missed"):
# printed beside a miss so that the table carries its own explanation.
WHY = {
    "int8": "onnxruntime's dynamic int8; NNCF's calibrated int8 on OpenVINO (openvino-int8) is the lever",
    "openvino": "session 5 quiet run (load 1.6): 2.32-2.38x against torch's 2-thread 554 texts/s with one "
    "2-thread stream; since session 6 one stream per thread, not proven on a quiet machine "
    "(bench.openvino_configs); the lever became the openvino-int8 backend (next row)",
    "openvino-int8": "NNCF's calibrated int8 (SmoothQuant 0.7) on VNNI; see docs/performance.md, Session 8",
    "vs_raw": "on 2 cores the 1-thread replicas share the cores with the Ingress, HAProxy and the client while "
    "raw encode has both (quiet run too); at int8 speed the float JSON too: base64 rows are the lever",
    "vs_raw:openvino": "as for every backend on 2 cores; until session 6 both replicas were pinned to core 0 "
    "(+30 % unpinned, same run)",
    "vs_inf": "as above; Infinity batches 64 in one process with no proxy",
    "overhead": "the request path's floor is the peer table's /healthz p50; the spread between runs exceeds "
    "the 5 ms at load: a quiet, repeated run decides",
    "overhead:torch": "torch: the Ingress's copy runs at 1 thread, the raw p50 is the 2-thread one (quiet: 9.3-10.2 vs "
    "6.3 ms); over 1-thread raw it is ~3.3 ms like int8; py-spy: no other busy Python thread in the "
    "Ingress; a 2-thread copy (TOPICSERVE_INGRESS_EMBED_THREADS=2, bench c2): 4x worse or 1.3x better "
    "at load 4-6 depending on order; the quiet run decides",
    "search": "nprobes 64 / refine 20 on IVF_PQ; IVF_HNSW_SQ needs half the CPU (docs/store.md)",
    "image": "the torch image; the torch-free cpu-slim image is the lever (its row)",
    "make_test": "met (609 s) since bytecode is cached in the venv; the lint + unit lane is now the long one "
    "(cold mypy 60 s, the OpenVINO/ONNX export fixtures): next, those",
}


def why(key: str, fallback: str) -> str:
    """The reason for one backend's miss where it has its own, else the shared one."""
    return WHY.get(key, WHY[fallback])


def verdict(ok: bool | None, why: str = "") -> str:
    if ok is None:
        return "report"
    return "✔" if ok else f"✘ {why}".rstrip()


def _ok(values: list[float], good) -> bool | None:
    return all(good(v) for v in values) if values else None


def annotate(run: dict) -> dict:
    """Reference rates of this run: raw torch encode on all cores, and Infinity."""
    st = [r for r in run["rows"] if r["peer"].startswith("sentence-transformers")]
    run["reference"] = max((r["texts_per_s"] for r in st), default=None)
    inf = [r for r in run["rows"] if r["peer"].startswith("Infinity")]
    run["infinity"] = inf[0]["texts_per_s"] if inf else None  # float JSON
    run["infinity_by_encoding"] = {r.get("encoding", "float"): r["texts_per_s"] for r in inf}
    int8 = [r for r in run["rows"] if r["kind"] == "raw" and r["backend"] == "onnx-int8"]
    run["raw_int8"] = max((r["texts_per_s"] for r in int8), default=None)
    for backend in ("openvino", "openvino-int8"):
        rows = [r for r in run["rows"] if r["kind"] == "raw" and r["backend"] == backend]
        run[f"raw_{backend}"] = max((r["texts_per_s"] for r in rows), default=None)
    run["raw_p50"] = {b: min((r["p50_ms"] for r in run["rows"] if r["kind"] == "raw" and r["backend"] == b),
                             default=None) for b in SERVICE_BACKENDS}  # fmt: skip
    return run


def _service_ratios(runs: list[dict], backend: str) -> tuple[list[float], list[float], list[float]]:
    """Best service row of ``backend`` per run: × raw (same backend), × Infinity, p50 overhead (ms)."""
    vs_raw, vs_inf, overhead = [], [], []
    for run in runs:
        rows = [r for r in run["rows"] if r["kind"] == "http" and r.get("backend") == backend and "replicas" in r]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["texts_per_s"])
        raw = {"torch": run["reference"], "onnx-int8": run["raw_int8"]}.get(backend, run.get(f"raw_{backend}"))
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
    out = [
        "## Targets (issue 11)",
        "",
        "| target | measured (min–max over runs) | goal | verdict |",
        "|---|---|---|---|",
    ]
    int8 = [r["raw_int8"] / r["reference"] for r in runs if r.get("raw_int8") and r.get("reference")]
    out.append(
        f"| ONNX int8 vs raw torch fp32, in-process | {spread(int8, '{:.2f}×')} | ≥ 2.5× "
        f"| {verdict(_ok(int8, lambda v: v >= 2.5), WHY['int8'])} |"
    )
    for backend, what in (("openvino", "OpenVINO (bf16 on AMX)"), ("openvino-int8", "OpenVINO int8 (NNCF)")):
        ov = [r[f"raw_{backend}"] / r["reference"] for r in runs if r.get(f"raw_{backend}") and r.get("reference")]
        if ov:
            out.append(
                f"| {what} vs raw torch fp32, in-process | {spread(ov, '{:.2f}×')} | ≥ 2.5× "
                f"| {verdict(_ok(ov, lambda v: v >= 2.5), WHY[backend])} |"
            )
    for backend in SERVICE_BACKENDS:
        vs_raw, vs_inf, overhead = _service_ratios(runs, backend)
        what = f"`/v1/embeddings` ({backend}, best size)"
        if vs_raw:
            ok = verdict(_ok(vs_raw, lambda v: v >= 0.9), why(f"vs_raw:{backend}", "vs_raw"))
            out.append(f"| {what} vs raw {backend} | {spread(vs_raw, '{:.2f}×')} | ≥ 0.9× | {ok} |")
        if vs_inf:
            ok = verdict(_ok(vs_inf, lambda v: v >= 1.2), WHY["vs_inf"])
            out.append(f"| {what} vs Infinity | {spread(vs_inf, '{:.2f}×')} | ≥ 1.2× | {ok} |")
        if overhead:
            ok = verdict(_ok(overhead, lambda v: v <= 5), why(f"overhead:{backend}", "overhead"))
            out.append(
                f"| single-text overhead over raw ({backend}), p50 | {spread(overhead, '{:.1f} ms')} | ≤ 5 ms | {ok} |"
            )
    q = result.get("quality", {}).get("test")
    if q:
        out.append(
            f"| int8 mean cosine to fp32 (1,000 test texts) | {q['mean_cosine']:.4f} | ≥ 0.99 "
            f"| {verdict(q['mean_cosine'] >= 0.99)} |"
        )
        out.append(
            f"| int8 AG News accuracy drop (rows 2000+) | {q['accuracy_drop_pt']:.2f} pt | ≤ 0.5 pt "
            f"| {verdict(q['accuracy_drop_pt'] <= 0.5)} |"
        )
    for backend in ("openvino", "openvino-int8"):
        if not q or backend not in q:
            continue
        ov_q = q[backend]
        out.append(
            f"| {backend} mean cosine to fp32 (1,000 test texts) | {ov_q['mean_cosine']:.4f} | ≥ 0.99 "
            f"| {verdict(ov_q['mean_cosine'] >= 0.99)} |"
        )
        out.append(
            f"| {backend} AG News accuracy drop (rows 2000+) | {ov_q['accuracy_drop_pt']:.2f} pt | ≤ 0.5 pt "
            f"| {verdict(ov_q['accuracy_drop_pt'] <= 0.5)} |"
        )
    return out + search_lines() + deploy_lines(result)


def search_lines() -> list[str]:
    """From the store bench's last 1M run (`make bench-store`: 200 s of index build, not repeated here)."""
    if not STORE_BENCH.exists():
        return []
    r = json.loads(STORE_BENCH.read_text())["results"]["no_filter"]
    return [
        f"| `/search` index lookup at 1,000,000 vectors, p50 (store bench, {STORE_BENCH.name}) "
        f"| {r['p50_ms']:.1f} ms | ≤ 30 ms | {verdict(r['p50_ms'] <= 30, WHY['search'])} |",
        f"| recall@10 vs exact at 1,000,000 | {r['recall_at_10']:.3f} | ≥ 0.95 "
        f"| {verdict(r['recall_at_10'] >= 0.95)} |",
    ]


def deploy_lines(result: dict) -> list[str]:
    out = []
    cold = [run["coldstart"]["readyz_200_s"] for run in result["runs"] if run.get("coldstart", {}).get("readyz_200_s")]
    if cold:
        ok = verdict(_ok(cold, lambda v: v <= 20))
        out.append(f"| `serve deploy` of the zip → `/readyz` 200, cold | {spread(cold, '{:.1f} s')} | ≤ 20 s | {ok} |")
    ingest = [r["ingest"] for run in result["runs"] for r in run["rows"] if r.get("ingest")]
    if ingest:
        rate = spread([i["docs_per_s"] for i in ingest])
        share = spread([100 * i["embed_share"] for i in ingest], "{:.0f}%")
        out.append(
            f"| ingest, `POST /documents` batches of 64 | {rate} docs/s ({share} of it embedding) | report | report |"
        )
    fp = result.get("footprint")
    if fp:
        out += footprint_lines(fp)
    return out


def footprint_lines(fp: dict) -> list[str]:
    out = []
    for name, image in (("CPU image (torch)", fp), ("CPU image `cpu-slim` (no torch, onnx-int8)", fp.get("slim"))):
        if image and image.get("image_estimate_mb"):
            disk, pull = image["image_estimate_mb"] / 1000, image["image_estimate_pull_mb"] / 1000
            why = "" if image is fp.get("slim") else WHY["image"]
            out.append(
                f"| {name} with the model (estimate: base + venv) | {disk:.2f} GB on disk, {pull:.2f} GB to pull "
                f"| ≤ 1.5 GB | {verdict(disk <= 1.5, why)} |"
            )
    ci = fp["make_test"]
    minutes = ci["make_test_s"] / 60
    out.append(
        f"| `make test`, fresh 2-core machine, install included | {minutes:.1f} min ({ci['source']}) "
        f"| ≤ 12 min | {verdict(minutes <= 12, WHY['make_test'])} |"
    )
    return out
