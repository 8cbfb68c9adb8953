"""Cold start: `serve deploy` of the app's zip on a fresh local Ray -> /readyz 200, per phase.

A fresh head (own ports, own temp dir: no runtime env cached) is started first and not counted;
then the clock starts at `serve deploy` and the phases come from three clocks that agree (all
Unix time on one machine): Ray's runtime-env agent log (the working_dir zip's download and
unpack), the Embedder replica's start-up marks (process start, imports, model load, first batch;
deployments/embedder.py, shown in /readyz) and this process polling /readyz every 0.1 s.
Also checks, in-process, that loading the model opens no network connection (HF_HUB_OFFLINE).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests
import yaml

from topicserve.device import has_local_gpu
from topicserve.gitarchive import archive_repo_name, build_archive
from topicserve.localray import RayHead, RayPorts, request_path_env
from topicserve.localrun import derive_local_config

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"
# Away from the e2e tests' block (26300) and Ray's defaults.
PORTS = RayPorts.block(16400)
LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\s+INFO .*?-- (Creating|Successfully created) runtime env"
)


def runtime_env_span(temp_dir: Path) -> tuple[float, float] | None:
    """(start, end) Unix times of the first working_dir runtime env the agent created."""
    logs = sorted(temp_dir.glob("session_*/logs/runtime_env_agent.log"))
    if not logs:
        return None
    start = None
    for line in logs[-1].read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if not match or "working_dir" not in line:
            continue
        stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if match.group(2) == "Creating" and start is None:
            start = stamp
        elif match.group(2) == "Successfully created" and start is not None:
            return start, stamp
    return None


def local_config(zip_uri: str, port: int) -> Path:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    storage = BUILD / f"store-cold-{time.time_ns()}"
    local = derive_local_config(config, working_dir=zip_uri, storage_uri=str(storage), gpu=has_local_gpu(), port=port)
    path = BUILD / "serve_config.cold.yaml"
    path.write_text(yaml.safe_dump(local, sort_keys=False))
    return path


def wait_readyz(url: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            resp = requests.get(f"{url}/readyz", timeout=2)
            if resp.status_code == 200:
                return resp.json()
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url}/readyz not 200 after {timeout_s:.0f}s")


def phases(t0: float, submitted: float, ready: float, env: tuple[float, float] | None, embedder: dict) -> dict:
    marks = embedder.get("startup") or {}

    def since(mark: str) -> float | None:
        return round(marks[mark] - t0, 3) if marks.get(mark) else None

    rows = {
        "serve_deploy_cli_s": round(submitted - t0, 3),
        "runtime_env_start_s": round(env[0] - t0, 3) if env else None,
        "runtime_env_create_s": round(env[1] - env[0], 3) if env else None,
        "embedder_process_start_s": since("process_started"),
        **{k: v for k, v in marks.items() if k.endswith("_s")},
        "embedder_ready_s": since("first_batch_done"),
        "readyz_200_s": round(ready - t0, 3),
    }
    done = marks.get("first_batch_done")
    rows["after_embedder_to_readyz_s"] = round(ready - done, 3) if done else None
    return rows


def measure(port: int = 18124, python: Path | None = None, env: dict[str, str] | None = None) -> dict:
    """One cold deploy on a fresh head; the head and its temp dir are removed afterwards.

    ``python``: the interpreter whose Ray runs the cluster (and so the replicas), e.g. the runtime
    venv's; default this one. ``env``: more variables for the head (and so the replicas), e.g. the
    torch-free image's TOPICSERVE_EMBEDDING_BACKEND (bench/footprint.py's ``coldstart_slim``).
    """
    BUILD.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    zip_path, _ = build_archive(ROOT, BUILD, archive_repo_name(config, ROOT))
    path = local_config(zip_path.as_uri(), port)
    bin_dir = Path(python or sys.executable).parent
    temp_dir = Path(tempfile.mkdtemp(prefix="tscold-", dir="/tmp"))
    head = RayHead(ports=PORTS, temp_dir=str(temp_dir))
    ray_started = time.time()
    head.start(bin_dir / "ray", BUILD / "ray-cold.log", env={**request_path_env(), **(env or {})})  # as `make run`
    try:
        ray_up = time.time()
        t0 = time.time()
        cmd = [str(bin_dir / "serve"), "deploy", "--address", head.dashboard, str(path)]
        subprocess.run(cmd, check=True, capture_output=True, env=None)
        submitted = time.time()
        ready_body = wait_readyz(f"http://127.0.0.1:{port}")
        ready = time.time()
        result = phases(t0, submitted, ready, runtime_env_span(temp_dir), ready_body.get("embedder", {}))
    finally:
        head.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
    return {
        "python": str(bin_dir.parent.relative_to(ROOT)) if bin_dir.is_relative_to(ROOT) else str(bin_dir.parent),
        "ray_start_s": round(ray_up - ray_started, 3),
        "zip_mb": round(zip_path.stat().st_size / 1e6, 2),
        **result,
    }


def network_calls_during_load(model: str) -> dict:
    """Socket connects and DNS lookups (audit events) while an Embedder loads ``model`` in a fresh process."""
    code = (
        "import json, sys, time\n"
        "seen = []\n"
        "net = ('socket.connect', 'socket.getaddrinfo')\n"
        "sys.addaudithook(lambda e, a: seen.append(f'{e} {a[1:2]}') if e in net else None)\n"
        "from topicserve.embedding import Embedder\n"
        "t = time.perf_counter(); Embedder(sys.argv[1], 'cpu', backend='torch')\n"
        "load_s = round(time.perf_counter() - t, 2)\n"
        "print(json.dumps({'network_calls': len(seen), 'examples': seen[:3], 'load_s': load_s}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, model], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
