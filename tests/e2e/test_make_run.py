"""`make run`'s own code path: `python -m topicserve up` deploys, loads the demo corpus, prints URLs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from tests.e2e.conftest import APP, BASE, ROOT

pytestmark = pytest.mark.e2e


def test_up_deploys_loads_the_demo_and_prints_the_urls(local_ray, tmp_path):
    storage = tmp_path / "store"
    out = subprocess.run(
        [sys.executable, "-m", "topicserve", "up", "--storage", str(storage)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "demo corpus: 36 documents loaded" in out.stdout
    assert f"API docs:   {BASE}/docs" in out.stdout and "Ray dashboard: http://127.0.0.1:8265" in out.stdout
    assert local_ray.status()["applications"][APP]["status"] == "RUNNING"
    ready = requests.get(f"{BASE}/readyz", timeout=30).json()
    assert ready["state"]["documents"] == 36 and str(storage) not in json.dumps(ready)  # no storage URI
    trending = requests.get(f"{BASE}/trends", params={"window": "7d", "baseline": "30d"}, timeout=60).json()
    assert trending["trending"][0]["topic"] == "conservation"  # the demo corpus's recent burst
    assert (storage / "documents.lance").is_dir()  # the LanceDB table
