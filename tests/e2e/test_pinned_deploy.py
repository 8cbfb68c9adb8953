"""Pinned deploys on a real local Ray: preflight's verdict is Ray's verdict.

A loopback server answers like GitHub's archive endpoint for a private repository (a copy of this
checkout with a bare remote). Ray is started with ``NETRC`` pointing at a ``.netrc`` for
``127.0.0.1``: the pinned URL without credentials deploys and the app gets RUNNING. A URL with a
wrong token in it (host ``localhost``, which the .netrc does not cover, so the URL's credentials
are what is sent) is rejected by preflight, and Ray fails it the same way: DEPLOY_FAILED on a 404,
with the token printed in `serve status`; preflight never prints it.
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
import yaml

from tests.e2e.conftest import PORT
from tests.e2e.raycluster import POLL_S
from topicserve import device, localrun
from topicserve.testing.archive_server import ArchiveServer, write_netrc
from topicserve.testing.repos import fixture_repo

ROOT = Path(__file__).resolve().parents[2]
APP = "topicserve"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def private_repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("pinned")
    fx = fixture_repo(ROOT, base / "repo")
    token = "ghp_" + secrets.token_hex(18)
    with ArchiveServer(fx.remote, tokens={token}) as server:
        yield fx, server, write_netrc(base / "netrc", "127.0.0.1", token), base


@pytest.fixture(scope="module")
def preflights(private_repo):
    """Preflight of the good config (no credentials in the URL) and of a bad one (a wrong token in it,
    host ``localhost``, which the .netrc does not cover), started together once the tests' Ray is up
    (seconds of imports each, side by side; the bad one finishes beside the good deploy). They need
    no Ray, but run after its start: beside it they slowed it (Ray's workers run at nice 15)."""
    fx, server, netrc, _ = private_repo
    wrong = "ghp_" + secrets.token_hex(18)
    bad_url = server.archive_url(fx.sha, userinfo=f"x-access-token:{wrong}").replace("127.0.0.1", "localhost")
    configs = {"good": write_config(private_repo, "good", server.archive_url(fx.sha))}
    configs["bad"] = write_config(private_repo, "bad", bad_url)
    with ThreadPoolExecutor(len(configs)) as pool:
        yield wrong, {name: (path, pool.submit(preflight, path, netrc)) for name, path in configs.items()}


@pytest.fixture(scope="module")
def ray_with_netrc(local_ray, private_repo):
    _, _, netrc, _ = private_repo
    local_ray.start(env={"NETRC": str(netrc)})
    return local_ray


def write_config(private_repo, name: str, working_dir: str) -> Path:
    fx, _, _, base = private_repo
    config = yaml.safe_load((fx.work / "serve_config.yaml").read_text())
    local = localrun.derive_local_config(
        config, working_dir=working_dir, storage_uri=str(base / "store"), gpu=device.has_local_gpu(), port=PORT
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


def test_netrc_deploy_runs_and_wrong_token_fails_like_preflight_said(ray_with_netrc, private_repo, preflights):
    _, server, _, _ = private_repo
    wrong, (good, checking), (bad, rejecting) = preflights[0], preflights[1]["good"], preflights[1]["bad"]

    checked = checking.result()
    assert checked.returncode == 0, checked.stdout + checked.stderr
    seen = len(server.requests_seen)  # from here on, what Ray downloads (and maybe the bad preflight's 404)
    ray_with_netrc.deploy(yaml.safe_load(good.read_text()))
    ray_with_netrc.wait_app(APP, "RUNNING")
    assert any(s.status == 200 and s.auth == "basic" for s in server.requests_seen[seen:]), "Ray did not use the .netrc"

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
