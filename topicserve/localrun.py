"""`up` / `down`: run the production config on a local single-node Ray, from a GitHub-style zip.

The local config is derived from serve_config.yaml, changing only what a laptop needs changed:
``working_dir`` becomes ``file://.../<repo>-<sha>.zip`` (built by ``git archive`` with the same
top folder GitHub's archive endpoint uses, so Ray strips it the same way), ``num_gpus`` drops to
0 without a GPU, replicas are capped to what fits, and storage points into the checkout.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from tqdm import tqdm

from topicserve.device import has_local_gpu
from topicserve.gitarchive import archive_repo_name, build_archive, repo_root
from topicserve.localray import DEFAULT_DASHBOARD, SERVE_API, RayHead, dashboard_up, request_path_env
from topicserve.redact import redact

DEMO_CORPUS = Path(__file__).parent / "data" / "demo_corpus.jsonl"
POLL_S = 1.0


def fit_small_cluster(config: dict[str, Any], *, gpu: bool, max_replicas: int = 1) -> dict[str, Any]:
    """``num_gpus`` 0 without a GPU and autoscaling capped at ``max_replicas``; input not modified.

    What a laptop (`make run`) and the CPU-only dev cluster (k8s/overlays/dev) both change.
    """
    small = copy.deepcopy(config)
    for app in small.get("applications", []):
        for dep in app.get("deployments", []):
            opts = dep.get("ray_actor_options") or {}
            if not gpu and opts.get("num_gpus"):
                opts["num_gpus"] = 0
            auto = dep.get("autoscaling_config")
            if auto:
                auto["max_replicas"] = max(auto.get("min_replicas", 1), min(auto.get("max_replicas", 1), max_replicas))
    return small


def derive_local_config(
    config: dict[str, Any], *, working_dir: str, storage_uri: str, gpu: bool, port: int = 8000, max_replicas: int = 1
) -> dict[str, Any]:
    """The production config with the laptop's differences applied; the input is not modified."""
    local = fit_small_cluster(config, gpu=gpu, max_replicas=max_replicas)
    local.setdefault("http_options", {}).update({"host": "127.0.0.1", "port": port})
    for app in local["applications"]:
        env = app.setdefault("runtime_env", {})
        env["working_dir"] = working_dir
        env_vars = env.setdefault("env_vars", {})
        env_vars["TOPICSERVE_STORAGE_URI"] = storage_uri
    # No TOPICSERVE_TORCH_THREADS: each Embedder replica runs as many threads as it has Ray CPUs
    # (1). More throughput comes from more replicas of 1 thread (`embedder_replicas`), which held
    # up on a busy machine where 1 replica x 2 threads stalled (docs/performance.md).
    return local


def size_embedder(config: dict[str, Any], replicas: int) -> dict[str, Any]:
    """``replicas`` CPU Embedder replicas of 1 thread each, their Ray CPUs shared out so that the
    other deployments still fit on a machine with ``replicas`` cores; input not modified."""
    sized = copy.deepcopy(config)
    for app in sized["applications"]:
        for dep in app.get("deployments", []):
            if dep["name"] == "Embedder" and replicas > 1:
                dep.pop("autoscaling_config", None)
                dep["num_replicas"] = replicas
                dep.setdefault("ray_actor_options", {})["num_cpus"] = round(1.0 / replicas, 2)
    return sized


def _auth_headers() -> dict[str, str]:
    """The API key of the app `up` deploys, when one is set in this environment (TOPICSERVE_API_KEY)."""
    key = os.environ.get("TOPICSERVE_API_KEY", "")
    return {"Authorization": f"Bearer {key}"} if key else {}


def load_demo(base_url: str, corpus: Path = DEMO_CORPUS, batch: int = 32, now: datetime | None = None) -> int:
    """POST the demo corpus; each line's ``days_ago`` becomes a timestamp relative to ``now``."""
    now = now or datetime.now(UTC)
    docs = []
    for line in corpus.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            ts = now - timedelta(days=float(rec.pop("days_ago", 0)))
            docs.append({**rec, "timestamp": ts.isoformat()})
    for i in tqdm(range(0, len(docs), batch), desc="demo corpus", unit="batch", disable=None):
        resp = requests.post(
            f"{base_url}/documents", json={"documents": docs[i : i + batch]}, headers=_auth_headers(), timeout=300
        )
        resp.raise_for_status()
    return len(docs)


def serve_status(bin_dir: Path, dashboard: str | None = None) -> dict[str, Any]:
    """`serve status` as a dict (``applications`` -> name -> ``status``, ``message``, ...).

    First the dashboard's own answer, the call `serve status` makes: each `serve` process spends
    seconds of CPU importing Ray, and the deploy it polls needs that CPU. The command itself when the
    dashboard wants what only it sends (a Ray token: token auth) or cannot be asked directly.
    """
    if dashboard:
        with contextlib.suppress(requests.RequestException, ValueError):
            resp = requests.get(f"{dashboard}{SERVE_API}", timeout=60)
            if resp.status_code == 200:
                return resp.json()
    address = ["--address", dashboard] if dashboard else []
    out = subprocess.run([str(bin_dir / "serve"), "status", *address], capture_output=True, text=True, timeout=60)
    return yaml.safe_load(out.stdout) or {} if out.returncode == 0 else {}


def serve_deploy(bin_dir: Path, dashboard: str, path: Path, config: dict[str, Any]) -> None:
    """`serve deploy` of ``config`` (written at ``path``): the request the command sends, sent here (no
    `serve` process importing Ray); the command itself when the dashboard wants a Ray token."""
    with contextlib.suppress(requests.RequestException):
        resp = requests.put(f"{dashboard}{SERVE_API}", json=config, timeout=180)
        if resp.status_code == 200:
            print(f"sent the deploy request for {path} to {dashboard}")
            return
        if resp.status_code not in (401, 403):
            raise RuntimeError(f"serve deploy of {path} refused ({resp.status_code}):\n{redact(resp.text)[-3000:]}")
    subprocess.run([str(bin_dir / "serve"), "deploy", "--address", dashboard, str(path)], check=True)


def wait_ready(
    base_url: str, bin_dir: Path, app_name: str, timeout_s: float = 600, dashboard: str | None = None
) -> None:
    """Wait for the app to be RUNNING in `serve status` and /readyz to answer 200.

    Both, because right after `serve deploy` of a new config the previous version of the app may
    still answer /readyz; fail fast, with Ray's message (tokens redacted), if the app fails to deploy.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app = serve_status(bin_dir, dashboard).get("applications", {}).get(app_name, {})
        if app.get("status") == "DEPLOY_FAILED":
            raise RuntimeError(
                f"application {app_name} DEPLOY_FAILED:\n{redact(app.get('message', ''))}\n"
                "Run `make preflight` to check the config outside Ray."
            )
        if app.get("status") == "RUNNING":
            try:
                if requests.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
        time.sleep(POLL_S)
    raise TimeoutError(f"{base_url}/readyz not ready after {timeout_s:.0f}s; see `serve status`")


def metrics_endpoints(dashboard: str) -> list[str]:
    """Where Prometheus scrapes the cluster: each node's metrics export port, as its dashboard reports."""
    try:
        nodes = requests.get(f"{dashboard}/nodes?view=summary", timeout=10).json()["data"]["summary"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return []
    ports = [(node.get("ip"), (node.get("raylet") or {}).get("metricsExportPort")) for node in nodes]
    return [f"http://{ip}:{port}/metrics" for ip, port in ports if ip and port]


def run_record(root: Path, path: str | None = None) -> Path:
    """What `up` started (or found), so `down` stops exactly that: build/localrun.json by default."""
    return Path(path) if path else root / "build" / "localrun.json"


def ensure_ray(bin_dir: Path, build: Path) -> dict[str, Any]:
    """Use the Ray cluster the environment points at (or one at the default dashboard); else start one.

    Returns the record `down` reads: ``started`` (this command started it, as a `ray start --head
    --block` child it can stop alone), the dashboard and GCS addresses.
    """
    pointed = os.environ.get("RAY_DASHBOARD_ADDRESS")
    dashboard = pointed or DEFAULT_DASHBOARD
    if dashboard_up(dashboard):
        print(f"using the Ray cluster already running at {dashboard} (`make stop` will leave it running)")
        return {"started": False, "dashboard": dashboard, "gcs_address": os.environ.get("RAY_ADDRESS", "auto")}
    if pointed or os.environ.get("RAY_ADDRESS"):
        raise RuntimeError(
            f"RAY_ADDRESS / RAY_DASHBOARD_ADDRESS point at a Ray cluster that does not answer ({dashboard}); "
            "start it, or unset them and `make run` starts its own"
        )
    head = RayHead()
    head.start(bin_dir / "ray", build / "ray-head.log", env=request_path_env())
    print(f"started Ray (pid {head.pid}, log {build / 'ray-head.log'})")
    return {"started": True, **head.to_dict()}


def up(args) -> int:
    root = repo_root()
    bin_dir = Path(sys.executable).parent
    config = yaml.safe_load((root / args.config).read_text())
    build = root / "build"
    zip_path, sha = build_archive(root, build, archive_repo_name(config, root))
    storage = Path(args.storage).expanduser().resolve()
    gpu = has_local_gpu()
    local = derive_local_config(
        config, working_dir=zip_path.as_uri(), storage_uri=str(storage), gpu=gpu, port=args.port
    )
    if not gpu and args.embedder_replicas:
        local = size_embedder(local, args.embedder_replicas)
    local_path = build / "serve_config.local.yaml"
    local_path.write_text(yaml.safe_dump(local, sort_keys=False))
    print(f"working_dir: {zip_path.as_uri()} (commit {sha[:12]})")
    app = local["applications"][0]["name"]
    record = {**ensure_ray(bin_dir, build), "app": app}
    run_record(root, args.record).write_text(json.dumps(record, indent=2))
    dashboard = record["dashboard"]
    if not record["started"] and app in (serve_status(bin_dir, dashboard).get("applications") or {}):
        # Serve rolls a changed app over replica by replica, each new one beside the old ones: with
        # the Embedder sized to the cores (size_embedder) a small machine has no room for that, and
        # the update waits forever. `up` replaces its app anyway, so it removes the old one first.
        print(f"replacing the app {app!r} already running there")
        delete_app(bin_dir, record["gcs_address"], app)
    serve_deploy(bin_dir, dashboard, local_path, local)
    base = f"http://127.0.0.1:{args.port}"
    wait_ready(base, bin_dir, app, timeout_s=args.timeout, dashboard=dashboard)
    if not args.no_demo:
        print(f"demo corpus: {load_demo(base)} documents loaded")
    scrape = ", ".join(metrics_endpoints(dashboard)) or f"see the Ray dashboard ({dashboard})"
    logs = f"{record.get('temp_dir') or '/tmp/ray'}/session_latest/logs/serve/"
    print(
        f"\ntopicserve is up\n  API:        {base}\n  API docs:   {base}/docs\n  readiness:  {base}/readyz\n"
        f"  Ray dashboard: {dashboard}\n  metrics:    {scrape} (Prometheus; ray_topicserve_* series)\n"
        f"  logs:       {logs} (JSON lines, one per request with its request_id)\n"
        f"  storage:    {storage}\n  stop with:  make stop"
    )
    return 0


def delete_app(bin_dir: Path, gcs_address: str, app: str) -> int:
    """Delete only ``app`` from a cluster others may use (`serve shutdown` would delete every app)."""
    code = (
        "import sys, ray; from ray import serve; "
        "ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False); serve.delete(sys.argv[2])"
    )
    return subprocess.run([str(bin_dir / "python"), "-c", code, gcs_address, app], timeout=120).returncode


def down(args) -> int:
    """Stop what `up` recorded: the Ray it started, or only the app on a Ray it found running."""
    path = run_record(repo_root(), args.record)
    if not path.exists():
        print("nothing to stop: no record of a `make run` here (build/localrun.json); no Ray was touched")
        return 0
    record = json.loads(path.read_text())
    bin_dir = Path(sys.executable).parent
    if record.get("started"):
        head = RayHead.from_dict(record)
        if head.alive():
            head.stop()
            print(f"stopped the Ray cluster `make run` started (pid {record['pid']})")
        else:
            print("the Ray cluster `make run` started is no longer running")
    else:
        rc = delete_app(bin_dir, record["gcs_address"], record["app"])
        state = "deleted" if rc == 0 else "could not delete"
        print(
            f"{state} the app {record['app']!r}; the Ray cluster at {record['dashboard']} was already running "
            "before `make run` and is left running"
        )
    path.unlink()
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "up", help="use the running Ray (RAY_DASHBOARD_ADDRESS) or start one, deploy from a zip, load the demo"
    )
    p.add_argument("--config", default="serve_config.yaml")
    p.add_argument("--storage", default=".data/store", help="local storage directory")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--no-demo", action="store_true", help="do not load the demo corpus")
    p.add_argument(
        "--embedder-replicas",
        type=int,
        default=os.cpu_count() or 1,
        help="CPU only: Embedder replicas of 1 thread each (default: the cores; 0 or 1 keeps the config's)",
    )
    p.add_argument("--record", help="where to record what was started (default build/localrun.json)")
    p.set_defaults(func=up)
    p = sub.add_parser("down", help="stop what `up` started (its Ray, or only the app on a Ray it found)")
    p.add_argument("--record", help="the record `up` wrote (default build/localrun.json)")
    p.set_defaults(func=down)
