"""A real local Ray cluster for end-to-end tests: start/stop with a chosen environment, deploy, wait.

The tests' Ray is a private one: its own ports (``PORTS``, Serve HTTP on ``SERVE_PORT``) and its
own temp dir, started as a child (`ray start --head --block`, topicserve.localray) and stopped by
signalling that child only, so a Ray someone else runs on the machine is left alone. Every `ray` /
`serve` command here is pointed at it (``RAY_ADDRESS`` / ``RAY_DASHBOARD_ADDRESS``). Test sessions
share these ports, so they take an exclusive lock on /tmp/topicserve-ray.lock (``ray_lock``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import yaml

from topicserve.localray import SERVE_API, RayHead, RayPorts, request_path_env

BIN = Path(sys.executable).parent
LOCK_PATH = "/tmp/topicserve-ray.lock"
PORTS = RayPorts.block(int(os.environ.get("TOPICSERVE_TEST_RAY_PORT_BASE", "26300")))
SERVE_PORT = int(os.environ.get("TOPICSERVE_TEST_SERVE_PORT", "28000"))
# What `serve deploy` / `serve status` send to the dashboard (SERVE_API, topicserve.localray) is sent
# here with requests: each `serve` command is a fresh Python importing Ray (seconds of CPU on the
# tests' 2 cores), and the waits below ask for the status every half second.
# What `ray list actors` asks the dashboard for (ray.util.state.api), for the same reason.
ACTORS_API = "/api/v0/actors"
POLL_S = 0.5
# On SIGTERM, `ray start --block` first marks the node draining and waits up to 30 s (Ray 2.60, so
# Serve on Kubernetes can finish requests): with the app deployed the tests' head sat out all of
# it on every stop. Nothing is in flight when a test stops it, so it tears down at once.
FAST_STOP = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}


# What the Serve controllers of the tests' heads warned about (proxy ready / health checks, replicas
# that failed to start or were replaced), counted, for the run's summary when a test failed
# (tests/e2e/conftest.py): the controller's view of a failure that the test itself only sees as a
# 500 or a timeout, and the part of the log a CI's tail shows.
CONTROLLER_WARNINGS: Counter[str] = Counter()


def controller_warnings(temp_dir: Path) -> Counter[str]:
    """The WARNING / ERROR lines of every Serve controller log under ``temp_dir`` (every head
    session), without their timestamps, pids and ids, counted."""
    found: Counter[str] = Counter()
    for log in temp_dir.glob("session_2*/logs/serve/controller_*.log"):
        for line in log.read_text(errors="replace").splitlines():
            head, _, message = line.partition(" -- ")
            level = head.split(" ", 1)[0]
            if message and level in ("WARNING", "ERROR"):
                found[f"{level} {re.sub(r'[0-9a-f]{16,}', '<id>', message)[:300]}"] += 1
    return found


class LocalRay:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env: dict[str, str] = {}
        # The last config deployed through ``deploy`` and the app's ``last_deployed_time_s`` once it
        # was RUNNING (tests/e2e/conftest.py's ``deployed`` skips a deploy of what is already there).
        self.deployed_config: dict[str, Any] | None = None
        self.deployed_at: float | None = None
        # Short, private temp dir: Ray's unix socket paths must stay under ~107 characters.
        self.temp_dir = tempfile.mkdtemp(prefix="tsray-", dir="/tmp")
        self.head = RayHead(ports=PORTS, temp_dir=self.temp_dir)

    @property
    def dashboard(self) -> str:
        return self.head.dashboard

    def client_env(self) -> dict[str, str]:
        return self.head.client_env()

    def start(self, env: dict[str, str] | None = None) -> None:
        """(Re)start a single-node head; ``env`` is what `ray start` (and so every worker) sees."""
        self.stop()
        # Serve's request path as `make run` starts it (HAProxy ingress: topicserve/localray.py).
        self.env = {"HF_HUB_OFFLINE": "1", **request_path_env(), **FAST_STOP, **(env or {})}
        self.head.start(BIN / "ray", self.workdir / "ray-head.log", env=self.env)

    def ensure_started(self) -> None:
        """Start the head again (same environment) if a test left it stopped."""
        if not self.head.alive():
            self.start(env=self.env)

    def stop(self) -> None:
        """Stop only this cluster: the `ray start --block` child shuts down what it started."""
        self.deployed_config = self.deployed_at = None
        self.head.stop()

    def close(self) -> None:
        self.stop()
        CONTROLLER_WARNINGS.update(controller_warnings(Path(self.temp_dir)))
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def deploy(self, config: dict[str, Any], name: str = "serve_config.test.yaml") -> Path:
        """`serve deploy` of ``config`` (also written to ``name``, to read when a test fails)."""
        path = self.workdir / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        resp = requests.put(f"{self.dashboard}{SERVE_API}", json=config, timeout=180)
        assert resp.status_code == 200, f"serve deploy failed: {resp.status_code}\n{resp.text[-1500:]}"
        self.deployed_config, self.deployed_at = config, None
        return path

    def status(self) -> dict[str, Any]:
        """`serve status` as JSON: ``applications`` -> name -> ``status``, ``message``, ``deployments``, ..."""
        try:
            resp = requests.get(f"{self.dashboard}{SERVE_API}", timeout=60)
        except requests.RequestException:
            return {}
        return resp.json() if resp.status_code == 200 else {}

    def alive_actors(self) -> list[dict[str, Any]]:
        """`ray list actors --detail --filter state=ALIVE` as JSON rows (``class_name``, ``pid``, ...)."""
        params = {
            "detail": "1",
            "limit": "10000",
            "filter_keys": "state",
            "filter_predicates": "=",
            "filter_values": "ALIVE",
        }
        resp = requests.get(f"{self.dashboard}{ACTORS_API}", params=params, timeout=60)
        assert resp.status_code == 200, f"listing actors failed: {resp.status_code}\n{resp.text}"
        return resp.json()["data"]["result"]["result"]

    def replica_pid(self, app: str, deployment: str) -> int:
        """The pid of the first live replica of ``app``'s ``deployment``."""
        return next(a["pid"] for a in self.alive_actors() if a["class_name"] == f"ServeReplica:{app}:{deployment}")

    def status_messages(self, app: str) -> str:
        """The messages `serve status` prints for ``app`` (its own and each deployment's), from the
        same dashboard call it makes: no `serve` process, which spends seconds importing Ray."""
        found = self.status().get("applications", {}).get(app, {})
        deployments = found.get("deployments", {}).values()
        return "\n".join([found.get("message", ""), *(d.get("message", "") for d in deployments)])

    def wait_app(self, app: str, want: str = "RUNNING", timeout: float = 600) -> dict[str, Any]:
        """Wait until ``app`` reaches ``want`` (RUNNING or DEPLOY_FAILED); fail on the other one."""
        terminal = {"RUNNING", "DEPLOY_FAILED"}
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.status().get("applications", {}).get(app, {})
            # Right after a deploy that rebuilds the app, the controller shows the old RUNNING until
            # its next loop, with no deployment listed: RUNNING counts once deployments are back.
            if last.get("status") == want and (want != "RUNNING" or last.get("deployments")):
                return last
            if last.get("status") in terminal - {want}:
                raise AssertionError(f"{app} is {last.get('status')}, wanted {want}: {last.get('message')}")
            time.sleep(POLL_S)
        raise AssertionError(f"{app} not {want} after {timeout}s; last status: {last}")
