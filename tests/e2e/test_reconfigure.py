"""Topics `user_config` changes apply live through `reconfigure`: new taxonomy, same replica."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import APP, BASE, deploy_app, local_config

pytestmark = pytest.mark.e2e

TEXT = "The beekeeper opened the hives and took out frames full of honey."


def _replica_pids(ray) -> dict[str, int]:
    import json

    out = ray._run("ray", "list", "actors", "--format", "json", "--detail", "--filter", "state=ALIVE")
    prefix = f"ServeReplica:{APP}:"
    return {
        a["class_name"].removeprefix(prefix): a["pid"]
        for a in json.loads(out.stdout)
        if a["class_name"].startswith(prefix)
    }


def test_taxonomy_and_threshold_change_without_restart(deployed, http, app_zip):
    ray, storage = deployed
    before = http.post(f"{BASE}/topics", json={"texts": [TEXT]}).json()
    assert "beekeeping" not in [t["label"] for t in before["results"][0]["topics"]]
    pids = _replica_pids(ray)

    config = local_config(app_zip, storage)
    topics = next(d for d in config["applications"][0]["deployments"] if d["name"] == "Topics")
    topics["user_config"] = {
        **topics["user_config"],
        "taxonomy": [
            {"label": "beekeeping", "description": "Bees, beekeepers, hives and honey."},
            {"label": "sailing", "description": "Boats, sails, harbours and the sea."},
        ],
        "top_k": 1,
    }
    try:
        ray.deploy(config)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            body = http.post(f"{BASE}/topics", json={"texts": [TEXT]}).json()
            if [t["label"] for t in body["results"][0]["topics"]] == ["beekeeping"]:
                break
            time.sleep(1)
        assert [t["label"] for t in body["results"][0]["topics"]] == ["beekeeping"], body
        assert _replica_pids(ray) == pids  # applied in place: no replica was restarted
    finally:
        deploy_app(ray, app_zip, storage)
