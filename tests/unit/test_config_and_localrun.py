"""serve_config.yaml against Ray's own schema and the code; the local derivation and the zip."""

from __future__ import annotations

import re
import subprocess
import zipfile

import pytest
import yaml

from tests.support import ROOT
from topicserve import gitarchive, localrun

CONFIG = yaml.safe_load((ROOT / "serve_config.yaml").read_text())


def test_serve_config_passes_rays_schema():
    schema = pytest.importorskip("ray.serve.schema")
    parsed = schema.ServeDeploySchema.model_validate(CONFIG)
    app = parsed.applications[0]
    assert app.import_path == "app:app"
    assert re.fullmatch(r"https://github\.com/[^/]+/[^/]+/archive/[0-9a-f]{40}\.zip", app.runtime_env["working_dir"]), (
        app.runtime_env["working_dir"]
    )


def test_deployment_names_match_the_code():
    pytest.importorskip("ray")
    import app as serve_app

    names = {d.name for d in _deployments(serve_app.app)}
    assert names == {d["name"] for d in CONFIG["applications"][0]["deployments"]}
    embedder = next(d for d in CONFIG["applications"][0]["deployments"] if d["name"] == "Embedder")
    assert embedder["ray_actor_options"]["num_gpus"] == 1


def _deployments(application):
    from ray.serve._private.build_app import build_app

    return [d._deployment if hasattr(d, "_deployment") else d for d in build_app(application, name="t").deployments]


def test_state_has_exactly_one_replica():
    state = next(d for d in CONFIG["applications"][0]["deployments"] if d["name"] == "State")
    assert state["num_replicas"] == 1 and "autoscaling_config" not in state


def test_local_config_changes_only_what_a_laptop_needs():
    local = localrun.derive_local_config(CONFIG, working_dir="file:///tmp/x.zip", storage_uri="/s", gpu=False)
    app = local["applications"][0]
    assert app["runtime_env"]["working_dir"] == "file:///tmp/x.zip"
    assert app["runtime_env"]["env_vars"]["TOPICSERVE_STORAGE_URI"] == "/s"
    # Threads follow each Embedder replica's Ray CPUs; more cores mean more replicas (size_embedder).
    assert "TOPICSERVE_TORCH_THREADS" not in app["runtime_env"]["env_vars"]
    assert all(d.get("ray_actor_options", {}).get("num_gpus", 0) == 0 for d in app["deployments"])
    assert app["import_path"] == CONFIG["applications"][0]["import_path"]
    assert CONFIG["applications"][0]["deployments"][0]["ray_actor_options"]["num_gpus"] == 1  # input untouched
    with_gpu = localrun.derive_local_config(CONFIG, working_dir="file:///x.zip", storage_uri="/s", gpu=True)
    assert with_gpu["applications"][0]["deployments"][0]["ray_actor_options"]["num_gpus"] == 1


def test_make_run_sizes_the_embedder_as_replicas_of_one_cpu_share():
    local = localrun.derive_local_config(CONFIG, working_dir="file:///x.zip", storage_uri="/s", gpu=False)
    sized = localrun.size_embedder(local, 2)
    embedder = next(d for d in sized["applications"][0]["deployments"] if d["name"] == "Embedder")
    assert embedder["num_replicas"] == 2 and "autoscaling_config" not in embedder
    assert embedder["ray_actor_options"]["num_cpus"] == 0.5  # 2 x 0.5 + the others' 0.75 fit 2 cores
    assert localrun.size_embedder(local, 1) == local  # one core: the config as it is
    assert "num_replicas" not in next(d for d in local["applications"][0]["deployments"] if d["name"] == "Embedder")


def test_archive_has_githubs_layout_and_includes_uncommitted_edits(tmp_path):
    repo = tmp_path / "src"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    run("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "init")
    (repo / "app.py").write_text("app = 1\n")
    run("add", "app.py")
    run("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "app")
    (repo / "app.py").write_text("app = 2\n")  # uncommitted edit of a tracked file
    (repo / "untracked.py").write_text("x = 1\n")
    path, sha = gitarchive.build_archive(repo, tmp_path / "out", "myrepo")
    assert path.name == f"myrepo-{sha}.zip" and re.fullmatch(r"[0-9a-f]{40}", sha)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert {n.split("/")[0] for n in names} == {f"myrepo-{sha}"}
        assert zf.read(f"myrepo-{sha}/app.py") == b"app = 2\n"
    assert not any(n.endswith("untracked.py") for n in names)


def test_archive_repo_name_comes_from_the_pinned_url():
    assert gitarchive.archive_repo_name(CONFIG, ROOT) == gitarchive.ARCHIVE_URL.search(
        CONFIG["applications"][0]["runtime_env"]["working_dir"]
    ).group("repo")
