"""`python -m topicserve preflight` against a loopback server that answers like GitHub for a private repo.

The fixture repository is a copy of this checkout with a bare "remote"; the server serves
``git archive`` of the remote's commits to valid credentials only. Every run asserts that no
token (right or wrong) appears in what preflight prints.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT
from topicserve.testing.archive_server import ArchiveServer, write_netrc
from topicserve.testing.repos import fixture_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("preflight")
    fx = fixture_repo(ROOT, base / "repo")
    app_py = (fx.work / "app.py").read_text()
    shas = {
        "good": fx.sha,
        "nested": fx.commit(
            "move app.py into serving/", {"serving/app.py": app_py, "app.py": None}, push=True, branch="nested"
        ),
        "missing": fx.commit(
            "app imports a module nobody committed",
            {"app.py": "import helpers\n" + app_py},
            push=True,
            branch="missing",
        ),
        "unpushed": fx.commit("local only", {"NOTES.txt": "not pushed\n"}, push=False, branch="unpushed"),
    }
    token = "ghp_" + secrets.token_hex(18)
    fine_grained = "github_pat_" + secrets.token_hex(30)
    server = ArchiveServer(fx.remote, tokens={token, fine_grained}).start()
    netrc = write_netrc(base / "netrc", "127.0.0.1", token)
    yield {"fx": fx, "shas": shas, "server": server, "token": token, "fine": fine_grained, "netrc": netrc, "base": base}
    server.stop()


def config_for(world, name: str, *, sha: str = "good", userinfo: str = "", edit=None) -> Path:
    cfg = yaml.safe_load((world["fx"].work / "serve_config.yaml").read_text())
    app = cfg["applications"][0]
    app["runtime_env"]["working_dir"] = world["server"].archive_url(world["shas"][sha], userinfo=userinfo)
    for dep in app["deployments"]:
        dep.get("ray_actor_options", {})["num_gpus"] = 0  # this machine has no GPU; the gpu check has its own test
    if edit:
        edit(app)
    path = world["fx"].work / "configs" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def preflight(world, config: Path, *args: str, netrc: bool = True, env: dict | None = None):
    run_env = {k: v for k, v in os.environ.items() if k != "RAY_RUNTIME_ENV_BEARER_TOKEN"}
    run_env.update(NETRC=str(world["netrc"]) if netrc else str(world["base"] / "no-netrc"), HF_HUB_OFFLINE="1")
    run_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "topicserve", "preflight", str(config), "--target", "local", *args],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    for secret in (world["token"], world["fine"], *(env or {}).values()):
        if secret.startswith(("ghp_", "github_pat_")):
            assert secret not in out, "a token was printed"
    return proc.returncode, out


def lines(out: str, level: str, check: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(level.upper()) and f"/{check}:" in line]


def test_good_config_passes(world):
    code, out = preflight(world, config_for(world, "good"))
    assert code == 0, out
    assert "ready to deploy" in out
    assert lines(out, "ok", "download") and ".netrc" in lines(out, "ok", "download")[0]
    assert f"top folder topicserve-{world['shas']['good']}/ stripped" in out
    assert "app:app -> ray.serve.deployment.Application with 4 deployment(s)" in out
    assert lines(out, "ok", "deployments")
    assert world["server"].requests_seen[-1].auth == "basic"


def test_json_output(world):
    code, out = preflight(world, config_for(world, "json"), "--json")
    body = json.loads(out)
    assert code == 0 and body["ok"] is True and body["errors"] == 0
    assert {f["check"] for f in body["findings"]} >= {"download", "unpack", "import", "deployments", "dependencies"}


def test_wrong_token_in_url(world):
    wrong = "ghp_" + secrets.token_hex(18)
    code, out = preflight(
        world, config_for(world, "wrong", userinfo=f"x-access-token:{wrong}"), netrc=False, env={"WRONG": wrong}
    )
    assert code == 1
    assert wrong not in out
    [error] = lines(out, "error", "download")
    assert "404 Not Found" in error and "credentials in the URL" in error
    assert "the credentials cannot read the repository" in error and "not pushed" not in error
    assert "control request for pushed commit" in out and ": 404" in out
    assert lines(out, "warning", "secrets") and "ray#28253" in out


def test_unpushed_commit(world):
    code, out = preflight(world, config_for(world, "unpushed", sha="unpushed"))
    assert code == 1
    [error] = lines(out, "error", "download")
    assert f"commit {world['shas']['unpushed'][:12]} is not on the remote" in error
    assert "is on no remote-tracking branch" in error and "git push" in error


def test_fine_grained_bearer_token(world):
    code, out = preflight(
        world, config_for(world, "fine"), netrc=False, env={"RAY_RUNTIME_ENV_BEARER_TOKEN": world["fine"]}
    )
    assert code == 1
    [error] = lines(out, "error", "download")
    assert "RAY_RUNTIME_ENV_BEARER_TOKEN" in error and "fine-grained" in error
    assert error.index("fine-grained token (github_pat_") < error.index("cannot read the repository")


def test_nested_import_path(world):
    code, out = preflight(world, config_for(world, "nested", sha="nested"))
    assert code == 1
    [error] = lines(out, "error", "import")
    assert "names module 'app'" in error and "exists at serving/app.py" in error
    assert "use import_path serving.app:app" in error


def test_missing_module(world):
    code, out = preflight(world, config_for(world, "missing", sha="missing"))
    assert code == 1
    [error] = lines(out, "error", "import")
    assert "the app imports 'helpers' (raised at app.py:1)" in error
    assert "No module named 'helpers'" in error and "neither in the working_dir nor installed" in error


def test_missing_deployment(world):
    def add_reranker(app):
        app["deployments"].append({"name": "Reranker", "num_replicas": 1})

    code, out = preflight(world, config_for(world, "reranker", edit=add_reranker))
    assert code == 1
    [error] = lines(out, "error", "deployments")
    assert "'Reranker' is in the config but not in the app" in error and "Embedder, Topics, State, Ingress" in error


def test_file_urls_and_unusable_arguments(world, tmp_path):
    not_zip = tmp_path / "page.zip"
    not_zip.write_text("<!DOCTYPE html><html>Sign in to GitHub</html>")
    cfg = config_for(world, "file", edit=lambda app: app["runtime_env"].update(working_dir=not_zip.as_uri()))
    code, out = preflight(world, cfg)
    assert code == 1 and "an HTML page" in lines(out, "error", "download")[0]
    cfg = config_for(world, "gone", edit=lambda app: app["runtime_env"].update(working_dir="file:///nope/x.zip"))
    code, out = preflight(world, cfg)
    assert code == 1 and "must exist on every Ray node" in out
    code, out = preflight(world, tmp_path / "absent.yaml")
    assert code == 2 and "not found" in out
