"""`up` / `down`: run the production config on a local single-node Ray, from a GitHub-style zip.

The local config is derived from serve_config.yaml, changing only what a laptop needs changed:
``working_dir`` becomes ``file://.../<repo>-<sha>.zip`` (built by ``git archive`` with the same
top folder GitHub's archive endpoint uses, so Ray strips it the same way), ``num_gpus`` drops to
0 without a GPU, replicas are capped to what fits, and storage points into the checkout.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from tqdm import tqdm

from topicserve.pin import ARCHIVE_URL, git, github_archive
from topicserve.redact import redact

DEMO_CORPUS = Path(__file__).parent / "data" / "demo_corpus.jsonl"


def repo_root(start: Path | None = None) -> Path:
    return Path(git(start or Path.cwd(), "rev-parse", "--show-toplevel"))


def archive_repo_name(config: dict[str, Any], root: Path) -> str:
    """The repository name GitHub would put in the archive's top folder."""
    for app in config.get("applications", []):
        match = ARCHIVE_URL.search(app.get("runtime_env", {}).get("working_dir", ""))
        if match:
            return match.group("repo")
    return root.name


def build_archive(root: Path, out_dir: Path, repo: str) -> tuple[Path, str]:
    """Zip the checkout as GitHub's archive endpoint would: ``<repo>-<sha>/`` holding the tree.

    Tracked files are taken as they are in the working tree (uncommitted edits included, via
    ``git stash create``); untracked files are not, exactly as a push would leave them out.
    """
    sha = git(root, "stash", "create") or git(root, "rev-parse", "HEAD")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{repo}-{sha}.zip"
    if not path.exists():
        path.write_bytes(github_archive(root, sha, f"{repo}-{sha}"))
    return path, sha


def has_gpu() -> bool:
    if os.environ.get("TOPICSERVE_FORCE_CPU"):
        return False
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True).returncode == 0


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
        if not gpu:
            # Ray gives the Embedder's torch 1 thread (its num_cpus); on a laptop the other cores
            # are idle. bench/throughput.py: 1.4-1.5x texts/s over HTTP with 2 threads on 2 cores.
            env_vars.setdefault("TOPICSERVE_TORCH_THREADS", str(os.cpu_count() or 1))
    return local


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
        resp = requests.post(f"{base_url}/documents", json={"documents": docs[i : i + batch]}, timeout=300)
        resp.raise_for_status()
    return len(docs)


def serve_status(bin_dir: Path) -> dict[str, Any]:
    out = subprocess.run([str(bin_dir / "serve"), "status"], capture_output=True, text=True, timeout=60)
    return yaml.safe_load(out.stdout) or {} if out.returncode == 0 else {}


def wait_ready(base_url: str, bin_dir: Path, app_name: str, timeout_s: float = 600) -> None:
    """Poll /readyz; fail fast, with Ray's message (tokens redacted), if the app fails to deploy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        app = serve_status(bin_dir).get("applications", {}).get(app_name, {})
        if app.get("status") == "DEPLOY_FAILED":
            raise RuntimeError(
                f"application {app_name} DEPLOY_FAILED:\n{redact(app.get('message', ''))}\n"
                "Run `make preflight` to check the config outside Ray."
            )
        time.sleep(2)
    raise TimeoutError(f"{base_url}/readyz not ready after {timeout_s:.0f}s; see `serve status`")


# Custom Ray resources this node must declare: State asks for `topicserve_store` (serve_config.yaml).
NODE_RESOURCES = {"topicserve_store": 1}


def ray_start_args() -> list[str]:
    return [
        "start",
        "--head",
        "--disable-usage-stats",
        "--dashboard-host",
        "127.0.0.1",
        "--resources",
        json.dumps(NODE_RESOURCES),
    ]


def alive_nodes(bin_dir: Path) -> list[dict[str, Any]] | None:
    """The running cluster's alive nodes (with ``resources_total``), or None when there is none."""
    out = subprocess.run(
        [str(bin_dir / "ray"), "list", "nodes", "--format", "json", "--filter", "state=ALIVE"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return None


def ensure_ray(bin_dir: Path) -> None:
    nodes = alive_nodes(bin_dir)
    if not nodes:
        subprocess.run([str(bin_dir / "ray"), *ray_start_args()], check=True)
        return
    if not any(all(n.get("resources_total", {}).get(k, 0) >= v for k, v in NODE_RESOURCES.items()) for n in nodes):
        raise RuntimeError(
            f"a Ray cluster is already running without the resource(s) {', '.join(NODE_RESOURCES)} that State "
            "needs; stop it (`make stop`) and run `make run` again"
        )


def up(args) -> int:
    root = repo_root()
    bin_dir = Path(sys.executable).parent
    config = yaml.safe_load((root / args.config).read_text())
    build = root / "build"
    zip_path, sha = build_archive(root, build, archive_repo_name(config, root))
    storage = Path(args.storage).expanduser().resolve()
    local = derive_local_config(
        config, working_dir=zip_path.as_uri(), storage_uri=str(storage), gpu=has_gpu(), port=args.port
    )
    local_path = build / "serve_config.local.yaml"
    local_path.write_text(yaml.safe_dump(local, sort_keys=False))
    print(f"working_dir: {zip_path.as_uri()} (commit {sha[:12]})")
    ensure_ray(bin_dir)
    subprocess.run([str(bin_dir / "serve"), "deploy", str(local_path)], check=True)
    base = f"http://127.0.0.1:{args.port}"
    wait_ready(base, bin_dir, local["applications"][0]["name"], timeout_s=args.timeout)
    if not args.no_demo:
        print(f"demo corpus: {load_demo(base)} documents loaded")
    print(
        f"\ntopicserve is up\n  API:        {base}\n  API docs:   {base}/docs\n  readiness:  {base}/readyz\n"
        f"  Ray dashboard: http://127.0.0.1:8265\n  storage:    {storage}\n  stop with:  make stop"
    )
    return 0


def down(args) -> int:
    subprocess.run([str(Path(sys.executable).parent / "ray"), "stop", "--force"], check=False)
    return 0


def register(sub) -> None:
    p = sub.add_parser("up", help="start local Ray, deploy the app from a zip, load the demo corpus")
    p.add_argument("--config", default="serve_config.yaml")
    p.add_argument("--storage", default=".data/store", help="local storage directory")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--no-demo", action="store_true", help="do not load the demo corpus")
    p.set_defaults(func=up)
    p = sub.add_parser("down", help="stop the local Ray cluster")
    p.set_defaults(func=down)
