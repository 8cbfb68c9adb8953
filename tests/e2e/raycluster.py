"""A real local Ray cluster for end-to-end tests: start/stop with a chosen environment, deploy, wait.

Only one Ray cluster fits on a machine, and other test sessions may want it too: everything here
runs under an exclusive lock on /tmp/topicserve-ray.lock (see the `ray_lock` fixture).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from topicserve.localrun import ray_start_args

BIN = Path(sys.executable).parent
LOCK_PATH = "/tmp/topicserve-ray.lock"


class LocalRay:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env: dict[str, str] = {}

    def _run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )

    def start(self, env: dict[str, str] | None = None) -> None:
        """(Re)start a single-node head; ``env`` is what `ray start` (and so every worker) sees."""
        self.stop()
        self.env = {"HF_HUB_OFFLINE": "1", **(env or {})}
        out = self._run("ray", *ray_start_args(), env=self.env)
        assert out.returncode == 0, f"ray start failed:\n{out.stdout}\n{out.stderr}"

    def stop(self) -> None:
        self._run("ray", "stop", "--force")

    def deploy(self, config: dict[str, Any], name: str = "serve_config.test.yaml") -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        out = self._run("serve", "deploy", str(path), env=self.env)
        assert out.returncode == 0, f"serve deploy failed:\n{out.stdout}\n{out.stderr}"
        return path

    def status(self) -> dict[str, Any]:
        out = self._run("serve", "status", env=self.env, timeout=60)
        return (yaml.safe_load(out.stdout) or {}) if out.returncode == 0 else {}

    def serve_status_text(self) -> str:
        return self._run("serve", "status", env=self.env, timeout=60).stdout

    def wait_app(self, app: str, want: str = "RUNNING", timeout: float = 600) -> dict[str, Any]:
        """Wait until ``app`` reaches ``want`` (RUNNING or DEPLOY_FAILED); fail on the other one."""
        terminal = {"RUNNING", "DEPLOY_FAILED"}
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.status().get("applications", {}).get(app, {})
            if last.get("status") == want:
                return last
            if last.get("status") in terminal - {want}:
                raise AssertionError(f"{app} is {last.get('status')}, wanted {want}: {last.get('message')}")
            time.sleep(2)
        raise AssertionError(f"{app} not {want} after {timeout}s; last status: {last}")
