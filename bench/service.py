"""The service peer: topicserve deployed on local Ray (`python -m topicserve up --no-demo`), measured over HTTP.

Each configuration (backend, Embedder replicas x threads) is a Serve config derived from
serve_config.yaml and written under build/bench/. Ray runs under the shared lock
(/tmp/topicserve-ray.lock, the one the e2e tests take) and is stopped before the lock is released.
"""

from __future__ import annotations

import copy
import fcntl
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
LOCK = Path("/tmp/topicserve-ray.lock")
BUILD = ROOT / "build" / "bench"


class ServiceConfig(BaseModel):
    backend: str = "torch"
    replicas: int = 1
    threads: int = 1
    num_cpus: float = 1.0

    def label(self) -> str:
        return f"{self.backend}, {self.replicas} replica(s) x {self.threads} thread(s)"


def serve_config(cfg: ServiceConfig) -> dict:
    """serve_config.yaml with the Embedder sized as ``cfg`` and the backend/threads in its env."""
    config = copy.deepcopy(yaml.safe_load((ROOT / "serve_config.yaml").read_text()))
    app = config["applications"][0]
    app["runtime_env"].setdefault("env_vars", {}).update(
        {"TOPICSERVE_EMBEDDING_BACKEND": cfg.backend, "TOPICSERVE_TORCH_THREADS": str(cfg.threads)}
    )
    for dep in app["deployments"]:
        if dep["name"] == "Embedder":
            dep.pop("autoscaling_config", None)
            dep["num_replicas"] = cfg.replicas
            dep["ray_actor_options"]["num_cpus"] = cfg.num_cpus
    return config


@contextmanager
def ray_lock():
    """The lock every helper and the e2e tests take around a local Ray cluster (flock(1) compatible)."""
    LOCK.touch(exist_ok=True)
    with LOCK.open("a") as handle:
        print(f"waiting for {LOCK} ...", flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            subprocess.run([sys.executable, "-m", "topicserve", "down"], cwd=ROOT, check=False, capture_output=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def deploy(cfg: ServiceConfig, port: int) -> str:
    """(Re)deploy the app with ``cfg`` on the running (or a new) local cluster; returns the base URL."""
    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / "serve_config.bench.yaml"
    path.write_text(yaml.safe_dump(serve_config(cfg), sort_keys=False))
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "serve"), "shutdown", "-y"], cwd=ROOT, check=False, capture_output=True)
    cmd = [sys.executable, "-m", "topicserve", "up", "--config", str(path), "--no-demo", "--port", str(port),
           "--storage", str(BUILD / f"store-{time.time_ns()}")]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, env=None)
    url = f"http://127.0.0.1:{port}"
    embedder = requests.get(f"{url}/readyz", timeout=30).json()["embedder"]
    # The app answering must be this one: this backend and thread count (a stale or foreign app would not).
    if embedder.get("backend") != cfg.backend or embedder.get("threads") != cfg.threads:
        raise RuntimeError(f"deployed embedder {embedder} is not the configured {cfg.label()}")
    print(f"deployed {cfg.label()} in {time.perf_counter() - start:.1f}s", flush=True)
    return url
