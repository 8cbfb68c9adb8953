"""Topics `user_config` changes apply live through `reconfigure`: new taxonomy, same replica, and
the stored documents are re-tagged to the new taxonomy version in the background (/readyz shows it)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import APP, BASE, deploy_app, local_config

pytestmark = pytest.mark.e2e

TEXT = "The beekeeper opened the hives and took out frames full of honey."


def _replica_pids(ray) -> dict[str, int]:
    prefix = f"ServeReplica:{APP}:"
    return {
        a["class_name"].removeprefix(prefix): a["pid"] for a in ray.alive_actors() if a["class_name"].startswith(prefix)
    }


def _retag_done(http, version: str | None = None, timeout_s: float = 120) -> dict:
    """/readyz's re-tag progress once it is done (for ``version``, or the one it shows first)."""
    deadline, seen = time.monotonic() + timeout_s, []
    while time.monotonic() < deadline:
        retag = http.get(f"{BASE}/readyz").json()["retag"]
        seen.append(retag)
        if (version is None or retag["version"] == version) and retag["total"] and not retag["in_progress"]:
            assert retag["done"] == retag["total"], retag
            return retag
        time.sleep(0.5)
    raise AssertionError(f"re-tag not done in {timeout_s} s: {seen[-3:]}")


def test_taxonomy_and_threshold_change_without_restart(deployed, http, app_zip):
    ray, storage = deployed
    before = http.post(f"{BASE}/topics", json={"texts": [TEXT]}).json()
    assert "beekeeping" not in [t["label"] for t in before["results"][0]["topics"]]
    stored = http.post(f"{BASE}/documents", json={"documents": [{"id": "reconfigure-bees", "text": TEXT}]}).json()
    old_version = stored["taxonomy_version"]
    assert _retag_done(http)["version"] == old_version
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
        # the document stored before the change is re-tagged in the background, from its stored vector
        retag = _retag_done(http, version=None)
        if retag["version"] == old_version:  # /readyz answered before the State saw the new version
            deadline = time.monotonic() + 30
            while http.get(f"{BASE}/readyz").json()["retag"]["version"] == old_version:
                assert time.monotonic() < deadline, "the State never picked up the new taxonomy version"
                time.sleep(0.5)
            retag = _retag_done(http)
        assert retag["version"] != old_version
        doc = http.get(f"{BASE}/documents/reconfigure-bees").json()
        assert doc["taxonomy_version"] == retag["version"] and [t["label"] for t in doc["topics"]] == ["beekeeping"]
        search = http.post(f"{BASE}/search", json={"query": TEXT, "k": 3, "topic": "beekeeping"}).json()
        assert "reconfigure-bees" in [r["id"] for r in search["results"]] and search["mixed"] is False
    finally:
        deploy_app(ray, app_zip, storage)
