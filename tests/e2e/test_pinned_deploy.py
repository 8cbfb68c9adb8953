"""Pinned deploys on a real local Ray: preflight's verdict is Ray's verdict.

A loopback server answers like GitHub's archive endpoint for a private repository (a copy of this
checkout with a bare remote). Ray is started with ``NETRC`` pointing at a ``.netrc`` for
``127.0.0.1``: the pinned URL without credentials deploys and the app gets RUNNING. A URL with a
wrong token in it (host ``localhost``, which the .netrc does not cover, so the URL's credentials
are what is sent) is rejected by preflight, and Ray fails it the same way: DEPLOY_FAILED on a 404,
with the token printed in `serve status`; preflight never prints it.

The restart there is also the suite's full Ray restart: the good deploy runs on the session's store,
on a head started afresh (``ray stop``, then ``ray start`` with another environment), from a zip of
another working directory, and serves every document the default app acknowledged before the stop,
with its indexes. Nothing survives a ``ray stop`` but storage.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.conftest import BASE, PORT, REQUEST_TIMEOUT_S, wait_ready
from tests.e2e.raycluster import POLL_S
from topicserve import device, localrun
from topicserve.testing.archive_server import ArchiveServer, write_netrc
from topicserve.testing.repos import fixture_repo

ROOT = Path(__file__).resolve().parents[2]
APP = "topicserve"
pytestmark = pytest.mark.e2e
RESTART_DOCS = [
    {"id": f"restart-{i}", "text": text}
    for i, text in enumerate(
        [
            "The guild commissioned a tapestry for the town hall.",
            "An engraving of the harbour town was printed in 1521.",
            "The gallery acquired a Byzantine ivory diptych.",
        ]
    )
]


@pytest.fixture(scope="module")
def private_repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("pinned")
    fx = fixture_repo(ROOT, base / "repo")
    token = "ghp_" + secrets.token_hex(18)
    with ArchiveServer(fx.remote, tokens={token}) as server:
        yield fx, server, write_netrc(base / "netrc", "127.0.0.1", token), base


@pytest.fixture(scope="module")
def preflights(private_repo, storage):
    """Preflight of the good config (no credentials in the URL) and of a bad one (a wrong token in it,
    host ``localhost``, which the .netrc does not cover), started together once the tests' Ray is up
    (seconds of imports each, side by side; the bad one finishes beside the good deploy). They need
    no Ray, but run after its start: beside it they slowed it (Ray's workers run at nice 15)."""
    fx, server, netrc, _ = private_repo
    wrong = "ghp_" + secrets.token_hex(18)
    bad_url = server.archive_url(fx.sha, userinfo=f"x-access-token:{wrong}").replace("127.0.0.1", "localhost")
    configs = {"good": write_config(private_repo, storage, "good", server.archive_url(fx.sha))}
    configs["bad"] = write_config(private_repo, storage, "bad", bad_url)
    with ThreadPoolExecutor(len(configs)) as pool:
        yield wrong, {name: (path, pool.submit(preflight, path, netrc)) for name, path in configs.items()}


@pytest.fixture(scope="module")
def acknowledged(deployed) -> int:
    """Documents the default app acknowledges before the restart (in a full run it is already
    deployed: the previous modules share it); returns how many the store then holds."""
    resp = requests.post(f"{BASE}/documents", json={"documents": RESTART_DOCS}, timeout=120)
    assert resp.status_code == 200, resp.text
    return requests.get(f"{BASE}/readyz", timeout=REQUEST_TIMEOUT_S).json()["state"]["documents"]


@pytest.fixture(scope="module")
def ray_with_netrc(acknowledged, local_ray, private_repo):
    _, _, netrc, _ = private_repo
    local_ray.start(env={"NETRC": str(netrc)})  # ray stop, then ray start --head: only storage survives
    return local_ray


def write_config(private_repo, storage: Path, name: str, working_dir: str) -> Path:
    """The fixture repo's serve_config.yaml as `make run` derives it, on the session's store."""
    fx, _, _, _ = private_repo
    config = yaml.safe_load((fx.work / "serve_config.yaml").read_text())
    local = localrun.derive_local_config(
        config, working_dir=working_dir, storage_uri=str(storage), gpu=device.has_local_gpu(), port=PORT
    )
    path = fx.work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(local, sort_keys=False))
    return path


def wait_failed(ray, timeout: float = 300) -> str:
    """The DEPLOY_FAILED message of the app (it is RUNNING from the previous deploy for a while)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app = ray.status().get("applications", {}).get(APP, {})
        if app.get("status") == "DEPLOY_FAILED":
            return app.get("message", "")
        time.sleep(POLL_S)
    raise AssertionError(f"{APP} did not become DEPLOY_FAILED in {timeout}s (last: {app.get('status')})")


def preflight(config: Path, netrc: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_RUNTIME_ENV_BEARER_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "topicserve", "preflight", str(config), "--target", "local"],
        cwd=ROOT,
        env={**env, "NETRC": str(netrc), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_netrc_deploy_runs_and_wrong_token_fails_like_preflight_said(
    ray_with_netrc, private_repo, preflights, acknowledged
):
    _, server, _, _ = private_repo
    wrong, (good, checking), (bad, rejecting) = preflights[0], preflights[1]["good"], preflights[1]["bad"]

    checked = checking.result()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    seen = len(server.requests_seen)  # from here on, what Ray downloads (and maybe the bad preflight's 404)
    ray_with_netrc.deploy(yaml.safe_load(good.read_text()))
    ray_with_netrc.wait_app(APP, "RUNNING")
    assert any(s.status == 200 and s.auth == "basic" for s in server.requests_seen[seen:]), "Ray did not use the .netrc"
    _restored(acknowledged)

    rejected = rejecting.result()
    ours = rejected.stdout + rejected.stderr
    assert rejected.returncode == 1
    assert "404 Not Found (sent credentials in the URL" in ours and "ray#28253" in ours
    assert (wrong in ours) is False, "preflight printed the token"

    ray_with_netrc.deploy(yaml.safe_load(bad.read_text()))
    message = wait_failed(ray_with_netrc)
    assert "404" in message and "Not Found" in message
    leaked = wrong in message  # Ray's own message holds the URL with the token (ray#28253)
    assert leaked, "expected Ray's serve status to include the URL's token"


def _restored(count: int) -> None:
    """After the full Ray restart, the app deployed again serves every acknowledged document and the
    indexes (vector and full-text) came back too."""
    wait_ready()
    with requests.Session() as http:
        assert http.get(f"{BASE}/readyz", timeout=REQUEST_TIMEOUT_S).json()["state"]["documents"] == count
        for doc in RESTART_DOCS:
            got = http.get(f"{BASE}/documents/{doc['id']}", timeout=REQUEST_TIMEOUT_S)
            assert got.status_code == 200 and got.json()["text"] == doc["text"], got.text
        # Other modules share this store: among this module's documents, the engraving of the town wins.
        query = {"query": "printed picture of a port city", "k": 100}
        hits = http.post(f"{BASE}/search", json=query, timeout=REQUEST_TIMEOUT_S).json()["results"]
        assert next(h["id"] for h in hits if h["id"].startswith("restart-")) == "restart-1"
        query = {"query": "engraving 1521", "k": 1, "mode": "keyword"}
        exact = http.post(f"{BASE}/search", json=query, timeout=REQUEST_TIMEOUT_S).json()["results"]
        assert exact[0]["id"] == "restart-1"
