"""Fixtures for end-to-end tests: a real local Ray cluster and the app deployed from a zip.

The app is deployed the way `make run` does it (topicserve.localrun): a GitHub-style
``<repo>-<sha>.zip`` of this checkout as ``working_dir``, the config derived from
serve_config.yaml, then real HTTP against the Serve proxy with the real model.
"""

from __future__ import annotations

import fcntl
import sys
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.raycluster import LOCK_PATH, PORTS, SERVE_PORT, LocalRay
from topicserve import device, gitarchive, localrun

ROOT = Path(__file__).resolve().parents[2]
# The tests' own Serve port and Ray ports (tests/e2e/raycluster.py), not 8000/8265/6379: a Ray
# someone runs on this machine keeps running and answering while the tests run.
PORT = SERVE_PORT
DASHBOARD = f"http://127.0.0.1:{PORTS.dashboard}"
BASE = f"http://127.0.0.1:{PORT}"
APP = "topicserve"


@pytest.fixture(scope="session")
def ray_lock():
    with open(LOCK_PATH, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
        fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def local_ray(ray_lock, tmp_path_factory):
    ray = LocalRay(tmp_path_factory.mktemp("ray"))
    ray.start()
    yield ray
    ray.close()


@pytest.fixture(scope="session")
def app_zip(tmp_path_factory) -> Path:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    path, _ = gitarchive.build_archive(ROOT, tmp_path_factory.mktemp("zip"), gitarchive.archive_repo_name(config, ROOT))
    return path


def local_config(zip_path: Path, storage: Path, **env: str) -> dict:
    """serve_config.yaml as `make run` derives it, plus extra env vars for the app."""
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    local = localrun.derive_local_config(
        config, working_dir=zip_path.as_uri(), storage_uri=str(storage), gpu=device.has_local_gpu(), port=PORT
    )
    # A 1 MiB body limit keeps the oversized-body test light.
    local["applications"][0]["runtime_env"]["env_vars"].update({"TOPICSERVE_MAX_BODY_BYTES": "1048576", **env})
    return local


def wait_ready(timeout: float = 600) -> None:
    localrun.wait_ready(BASE, Path(sys.executable).parent, APP, timeout_s=timeout, dashboard=DASHBOARD)


@pytest.fixture(scope="session")
def storage(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


def deploy_app(ray: LocalRay, zip_path: Path, storage: Path, **env: str) -> None:
    ray.deploy(local_config(zip_path, storage, **env))
    ray.wait_app(APP, "RUNNING")
    wait_ready()


@pytest.fixture(scope="module")
def deployed(local_ray, app_zip, storage):
    """The app RUNNING on local Ray (deployed again per module: other modules restart Ray)."""
    deploy_app(local_ray, app_zip, storage)
    return local_ray, storage


@pytest.fixture
def http(deployed) -> requests.Session:
    session = requests.Session()
    yield session
    session.close()
