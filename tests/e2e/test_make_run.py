"""`make run`'s own code path: `python -m topicserve up` deploys, loads the demo corpus, prints URLs;
`down` (`make stop`) then removes only what `up` brought: here the app, on a Ray `up` found running."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from tests.e2e.conftest import APP, BASE, PORT, ROOT
from tests.e2e.raycluster import PORTS
from topicserve.localray import dashboard_up

pytestmark = pytest.mark.e2e


def topicserve(local_ray, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "topicserve", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **local_ray.client_env()},  # the tests' Ray, as RAY_ADDRESS would point a user's
    )


def test_up_deploys_loads_the_demo_and_prints_the_urls(local_ray, tmp_path):
    storage, record = tmp_path / "store", tmp_path / "localrun.json"
    out = topicserve(local_ray, "up", "--storage", str(storage), "--port", str(PORT), "--record", str(record))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "demo corpus: 36 documents loaded" in out.stdout
    assert f"API docs:   {BASE}/docs" in out.stdout and f"Ray dashboard: {local_ray.dashboard}" in out.stdout
    assert "already running" in out.stdout  # it used the tests' Ray, and said so
    assert f":{PORTS.metrics}/metrics (Prometheus" in out.stdout  # where to scrape
    assert local_ray.status()["applications"][APP]["status"] == "RUNNING"
    ready = requests.get(f"{BASE}/readyz", timeout=30).json()
    assert ready["state"]["documents"] == 36 and str(storage) not in json.dumps(ready)  # no storage URI
    trending = requests.get(f"{BASE}/trends", params={"window": "7d", "baseline": "30d"}, timeout=60).json()
    assert trending["trending"][0]["topic"] == "conservation"  # the demo corpus's recent burst
    assert (storage / "documents.lance").is_dir()  # the LanceDB table, where `--storage` said

    down = topicserve(local_ray, "down", "--record", str(record))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "left running" in down.stdout
    assert dashboard_up(local_ray.dashboard) and local_ray.head.alive(), "make stop stopped a Ray it did not start"
    assert APP not in local_ray.status().get("applications", {})
    assert not record.exists()
