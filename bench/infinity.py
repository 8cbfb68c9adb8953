"""Infinity (infinity-emb), the dedicated embedding server we compare with, in its own venv.

infinity-emb 0.0.78 pins sentence-transformers < 4 and numpy < 2, which conflict with the
project's lock, so the bench installs it into build/venv-infinity (once) and serves the same local
model directory offline on a loopback port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "venv-infinity"
VERSION = "0.0.78"
# torch as in the project's lock (the local CPU wheel where one is provided).
PACKAGES = [f"infinity-emb[server,torch]=={VERSION}", "torch==2.13.0"]


def ensure_venv() -> Path:
    """build/venv-infinity with infinity-emb installed; returns its `infinity_emb` command."""
    exe = VENV / "bin" / "infinity_emb"
    stamp = VENV / f".installed-{VERSION}"
    if stamp.exists() and exe.exists():
        return exe
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, *PACKAGES], check=True)
    stamp.touch()
    return exe


def version() -> str:
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('infinity-emb'))"],
        capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip() or "?"


@contextmanager
def serve(model_dir: Path, port: int, batch_size: int = 64, threads: int = 0):
    """Run `infinity_emb v2` on 127.0.0.1:port until the block ends; yields the base URL."""
    exe = ensure_venv()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    (ROOT / "build" / "bench").mkdir(parents=True, exist_ok=True)  # a fresh clone has no build/
    log = (ROOT / "build" / "bench" / "infinity.log").open("w")
    cmd = [
        str(exe), "v2", "--model-id", str(model_dir), "--served-model-name", "bench", "--engine", "torch",
        "--device", "cpu", "--batch-size", str(batch_size), "--host", "127.0.0.1", "--port", str(port),
        "--url-prefix", "", "--no-bettertransformer",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"infinity_emb exited with {proc.returncode}; see build/bench/infinity.log")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"infinity_emb not healthy after {timeout_s:.0f}s; see build/bench/infinity.log")


if __name__ == "__main__":
    print(ensure_venv(), version())
