"""The service peer: topicserve deployed on local Ray (`python -m topicserve up --no-demo`), measured over HTTP.

Each configuration (backend, Embedder replicas x threads) is a Serve config derived from
serve_config.yaml and written under build/bench/. Ray runs under the shared lock
(/tmp/topicserve-ray.lock, the one the e2e tests take) and is stopped before the lock is released.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
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


# Ray Serve's request-path modes (Ray 2.60), set in the environment of `ray start`. The default (no
# mode) is what `make run` starts: HAProxy ingress (topicserve/localray.py SERVE_REQUEST_PATH_ENV).
RAY_MODES = {
    "px": {"RAY_SERVE_ENABLE_HA_PROXY": "0"},  # Serve's Python proxy actor + handle hop (before round 4)
    "ha": {"RAY_SERVE_ENABLE_HA_PROXY": "1"},  # HAProxy ingress + direct ingress (the default now)
    "tp": {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"},  # direct ingress, gRPC between replicas, no extra threads
    # tp's parts one at a time: user code on the replica's event loop (no thread hop per request),
    # gRPC for handle calls, direct ingress alone (the head's proxy stays; replicas also listen).
    "ut": {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0"},
    "grpc": {"RAY_SERVE_USE_GRPC_BY_DEFAULT": "1"},
    "di": {"RAY_SERVE_ENABLE_DIRECT_INGRESS": "1"},
}


class ServiceConfig(BaseModel):
    backend: str = "torch"
    replicas: int = 1
    threads: int = 1
    num_cpus: float = 1.0
    batch_wait_ms: float | None = None  # the Embedder's batch_wait_timeout_s; None: serve_config.yaml's
    max_batch: int | None = None  # the Embedder's max_batch_size (and max_ongoing_requests); None: the file's
    ingress_embed: int | None = None  # TOPICSERVE_INGRESS_EMBED_MAX_TEXTS; None: the settings' default
    ingress_threads: int | None = None  # TOPICSERVE_INGRESS_EMBED_THREADS; None: the settings' default
    openvino_streams: int | None = None  # TOPICSERVE_OPENVINO_STREAMS; None: the settings' default
    openvino_pinned: bool = False  # TOPICSERVE_OPENVINO_CPU_PINNING=1 (off by default since session 6)
    modes: list[str] = []  # keys of RAY_MODES

    def label(self) -> str:
        extra = "" if self.batch_wait_ms is None else f", batch wait {self.batch_wait_ms:g} ms"
        extra += "" if self.max_batch is None else f", batch {self.max_batch}"
        extra += "" if self.ingress_threads is None else f", ingress copy {self.ingress_threads} thread(s)"
        extra += "" if self.openvino_streams is None else f", {self.openvino_streams} stream(s)"
        extra += ", pinned" if self.openvino_pinned else ""
        if self.ingress_embed is not None:
            extra += f", ingress copy ≤ {self.ingress_embed}" if self.ingress_embed else ", no ingress copy"
        extra += "".join(f", {m}" for m in self.modes)
        return f"{self.backend}, {self.replicas} replica(s) x {self.threads} thread(s){extra}"

    def ray_env(self) -> dict[str, str]:
        return {k: v for mode in self.modes for k, v in RAY_MODES[mode].items()}


def serve_config(cfg: ServiceConfig) -> dict:
    """serve_config.yaml with the Embedder sized as ``cfg`` and the backend/threads in its env."""
    config = copy.deepcopy(yaml.safe_load((ROOT / "serve_config.yaml").read_text()))
    app = config["applications"][0]
    env = app["runtime_env"].setdefault("env_vars", {})
    env.update({"TOPICSERVE_EMBEDDING_BACKEND": cfg.backend, "TOPICSERVE_TORCH_THREADS": str(cfg.threads)})
    if cfg.ingress_embed is not None:
        env["TOPICSERVE_INGRESS_EMBED_MAX_TEXTS"] = str(cfg.ingress_embed)
    if cfg.ingress_threads is not None:
        env["TOPICSERVE_INGRESS_EMBED_THREADS"] = str(cfg.ingress_threads)
    if cfg.openvino_streams is not None:
        env["TOPICSERVE_OPENVINO_STREAMS"] = str(cfg.openvino_streams)
    if cfg.openvino_pinned:
        env["TOPICSERVE_OPENVINO_CPU_PINNING"] = "1"
    for dep in app["deployments"]:
        if dep["name"] == "Embedder":
            dep.pop("autoscaling_config", None)
            dep["num_replicas"] = cfg.replicas
            dep["ray_actor_options"]["num_cpus"] = cfg.num_cpus
            if cfg.batch_wait_ms is not None:
                dep["user_config"]["batch_wait_timeout_s"] = cfg.batch_wait_ms / 1000
            if cfg.max_batch is not None:
                dep["user_config"]["max_batch_size"] = dep["max_ongoing_requests"] = cfg.max_batch
    return config


@contextmanager
def ray_lock():
    """The lock every helper and the e2e tests take around a local Ray cluster (flock(1) compatible)."""
    LOCK.touch(exist_ok=True)
    with LOCK.open("a") as handle:
        print(f"waiting for {LOCK} ...", flush=True)
        fcntl.flock(handle, fcntl.LOCK_EX)
        stop_ray()  # a Ray a killed bench of ours left (its record says so), before starting another
        try:
            yield
        finally:
            stop_ray()
            fcntl.flock(handle, fcntl.LOCK_UN)


# What the first `up` of a Ray wrote (started: true, the head's pid): `down --record` stops that Ray.
# A later `up` on the same Ray records started: false (it found it running), so it writes elsewhere:
# with one shared record, `down` would delete only the app and leave the bench's Ray running.
RECORD = BUILD / "ray-record.json"


def stop_ray() -> None:
    if RECORD.exists():
        cmd = [sys.executable, "-m", "topicserve", "down", "--record", str(RECORD)]
        subprocess.run(cmd, cwd=ROOT, check=False, capture_output=True)


_ray_env: dict[str, str] = {}  # the modes of the Ray this process started last


def deploy(cfg: ServiceConfig, port: int) -> str:
    """(Re)deploy the app with ``cfg`` on the running (or a new) local cluster; returns the base URL."""
    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / "serve_config.bench.yaml"
    path.write_text(yaml.safe_dump(serve_config(cfg), sort_keys=False))
    bin_dir = Path(sys.executable).parent
    global _ray_env
    if cfg.ray_env() != _ray_env:  # another request-path mode: a fresh Ray started with its env
        stop_ray()
        _ray_env = cfg.ray_env()
    record = BUILD / "up-record.json"
    subprocess.run([str(bin_dir / "serve"), "shutdown", "-y"], cwd=ROOT, check=False, capture_output=True)
    cmd = [sys.executable, "-m", "topicserve", "up", "--config", str(path), "--no-demo", "--port", str(port),
           "--embedder-replicas", "0", "--record", str(record),
           "--storage", str(BUILD / f"store-{time.time_ns()}")]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, env={**os.environ, **_ray_env})
    if json.loads(record.read_text()).get("started"):  # this `up` started the Ray: stop_ray's to stop
        record.replace(RECORD)
    url = f"http://127.0.0.1:{port}"
    embedder = wait_ingress_copy(url)
    # The app answering must be this one: this backend and thread count (a stale or foreign app would not).
    if embedder.get("backend") != cfg.backend or embedder.get("threads") != cfg.threads:
        raise RuntimeError(f"deployed embedder {embedder} is not the configured {cfg.label()}")
    print(f"deployed {cfg.label()} in {time.perf_counter() - start:.1f}s", flush=True)
    return url


def wait_ingress_copy(url: str, timeout_s: float = 180) -> dict:
    """/readyz's embedder once the Ingress's model copy (topicserve/embedroute.py) has loaded, or is off
    or refused: it loads in the background after readiness, and a row must measure the loaded app."""
    deadline = time.monotonic() + timeout_s
    while True:
        embedder = requests.get(f"{url}/readyz", timeout=30).json()["embedder"]
        state = (embedder.get("ingress_copy") or {}).get("state", "off")
        if state not in ("loading", "not loaded") or time.monotonic() > deadline:
            return embedder
        time.sleep(0.5)
