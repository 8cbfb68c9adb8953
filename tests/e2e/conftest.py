"""Fixtures for end-to-end tests: a real local Ray cluster and the app deployed from a zip.

The app is deployed the way `make run` does it (topicserve.localrun): a GitHub-style
``<repo>-<sha>.zip`` of this checkout as ``working_dir``, the config derived from
serve_config.yaml, then real HTTP against the Serve proxy with the real model.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.raycluster import CONTROLLER_WARNINGS, LOCK_PATH, POLL_S, PORTS, SERVE_PORT, LocalRay
from topicserve import device, gitarchive, localrun

ROOT = Path(__file__).resolve().parents[2]
# The tests' own Serve port and Ray ports (tests/e2e/raycluster.py), not 8000/8265/6379: a Ray
# someone runs on this machine keeps running and answering while the tests run.
PORT = SERVE_PORT
DASHBOARD = f"http://127.0.0.1:{PORTS.dashboard}"
BASE = f"http://127.0.0.1:{PORT}"
APP = "topicserve"
# serve_config.yaml's http_options.request_timeout_s (60 s): by then the server has answered (a JSON 504
# from the handle deadline before it). A read made while a replica restarts waits this long, so that
# a slow machine gets the server's answer rather than a client timeout.
REQUEST_TIMEOUT_S = yaml.safe_load((ROOT / "serve_config.yaml").read_text())["http_options"]["request_timeout_s"]
# For an Ingress redeployed with a side config: no model copy of its own. Its background load would
# compete with the tests for the two cores, and the few-text requests of those tests then reach the
# Embedder deployment (the one whose limits and deadline they test) instead of the copy.
NO_INGRESS_COPY = {"TOPICSERVE_INGRESS_EMBED_MAX_TEXTS": "0"}


# The order the modules run in (pytest's is alphabetical): those on the default deployment first,
# back to back, so that it is deployed once (test_metrics first: its counters start from zero), then
# those that deploy another config or restart Ray: test_pinned_deploy restarts the head with its own
# environment (the suite's full Ray restart: the default app acknowledges documents just before it),
# test_make_run deploys `make run`'s app on that head, test_ray_etiquette stops it. A module not listed
# runs after these (``deployed`` deploys again where needed).
MODULE_ORDER = [
    "test_metrics",
    "test_service",
    "test_ui",
    "test_client_cli",
    "test_clients",
    "test_backfill",
    "test_reconfigure",
    "test_restart",
    "test_bad_inputs",
    "test_overload",
    "test_durability",
    "test_pinned_deploy",
    "test_make_run",
    "test_ray_etiquette",
]


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture scope
def pytest_collection_modifyitems(items):
    """Run the e2e modules in MODULE_ORDER (a stable sort of their slots; other tests keep theirs)."""
    slots = [i for i, item in enumerate(items) if Path(item.path).parent == Path(__file__).parent]
    rank = {name: n for n, name in enumerate(MODULE_ORDER)}
    ordered = sorted((items[i] for i in slots), key=lambda item: rank.get(Path(item.path).stem, len(rank)))
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


def pytest_terminal_summary(terminalreporter):
    """After a failed or erroring e2e test: what the tests' Serve controllers warned about."""
    if not (terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")) or not CONTROLLER_WARNINGS:
        return
    terminalreporter.section("Serve controller warnings and errors (count, message)")
    for line, count in CONTROLLER_WARNINGS.most_common(25):
        terminalreporter.write_line(f"{count:5d}  {line}")


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


def local_config(zip_path: Path, storage: Path, ingress: dict[str, str] | None = None, **env: str) -> dict:
    """serve_config.yaml as `make run` derives it, plus extra env vars for the app (``env``) or for
    its Ingress deployment alone (``ingress``).

    ``ingress``: for settings only the Ingress reads (the API key, the admission limit, its handle
    deadline). Serve adds a deployment's ``ray_actor_options.runtime_env.env_vars`` to the app's, and
    a change there restarts that deployment alone, where a change of the app's env vars rebuilds the
    app and restarts every replica (the Embedder reloading its model): seconds instead of ~25 s.
    """
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    local = localrun.derive_local_config(
        config, working_dir=zip_path.as_uri(), storage_uri=str(storage), gpu=device.has_local_gpu(), port=PORT
    )
    app = local["applications"][0]
    # A 1 MiB body limit keeps the oversized-body test light.
    app["runtime_env"]["env_vars"].update({"TOPICSERVE_MAX_BODY_BYTES": "1048576", **env})
    if ingress:
        options = next(d for d in app["deployments"] if d["name"] == "Ingress").setdefault("ray_actor_options", {})
        options["runtime_env"] = {"env_vars": dict(ingress)}
    return local


def wait_ready(timeout: float = 600) -> None:
    """/readyz answers 200 (the app is RUNNING already: ``LocalRay.wait_app``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{BASE}/readyz", timeout=10).status_code == 200:
                return
        time.sleep(POLL_S)
    raise AssertionError(f"{BASE}/readyz not ready after {timeout:.0f}s:\n{requests.get(f'{BASE}/readyz').text}")


@pytest.fixture(scope="session")
def storage(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


def deploy_app(ray: LocalRay, zip_path: Path, storage: Path, ingress: dict[str, str] | None = None, **env: str) -> None:
    """Deploy the app with ``env`` (``ingress``: ``local_config``'s) and wait until it serves; a no-op
    when exactly that config is up.

    "Exactly": the config this session last deployed through ``ray.deploy``, RUNNING since that
    deploy (same ``last_deployed_time_s``) on a head that was not restarted in between. Any other
    deploy (another module's config, `topicserve up`, a Ray restart) makes the next call deploy.
    """
    ray.ensure_started()
    config = local_config(zip_path, storage, ingress, **env)
    app = ray.status().get("applications", {}).get(APP, {})
    if not (ray.deployed_config == config and ray.deployed_at and app.get("last_deployed_time_s") == ray.deployed_at):
        ray.deploy(config)
        ray.deployed_at = ray.wait_app(APP, "RUNNING").get("last_deployed_time_s")
    elif app.get("status") != "RUNNING":  # e.g. a replica killed by the previous module is coming back
        ray.wait_app(APP, "RUNNING")
    wait_ready()


@pytest.fixture(scope="module")
def deployed(local_ray, app_zip, storage):
    """The app RUNNING on local Ray with the default config and the session's store. Modules that
    need it share one deployment: ``deploy_app`` skips what is already there (tests/e2e/conftest.py
    orders the modules so that they run back to back)."""
    deploy_app(local_ray, app_zip, storage)
    return local_ray, storage


@pytest.fixture
def http(deployed) -> requests.Session:
    session = requests.Session()
    yield session
    session.close()
