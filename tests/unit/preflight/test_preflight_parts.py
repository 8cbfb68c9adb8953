"""The pieces of preflight on their own: unpack like Ray, credentials precedence, lock vs env, GPU targets."""

from __future__ import annotations

import secrets
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT
from topicserve.preflight.deps import Environment, compare, parse_pins
from topicserve.preflight.fetch import credentials_for, download, unpack
from topicserve.preflight.gpu import check_gpus, gpu_needs, k8s_groups
from topicserve.redact import redact
from topicserve.testing.archive_server import ArchiveServer, write_netrc
from topicserve.testing.repos import git


def make_zip(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "" if name.endswith("/") else f"# {name}\n")
    return path


@pytest.mark.parametrize(
    "names",
    [
        ["repo-abc/", "repo-abc/app.py", "repo-abc/pkg/__init__.py"],  # GitHub layout: stripped
        ["app.py", "pkg/__init__.py"],  # flat: kept
        ["a/app.py", "b/app.py"],  # two top folders: kept
        ["repo/app.py", "__MACOSX/._app.py"],  # macOS zip: stripped, __MACOSX dropped
    ],
)
def test_unpack_matches_rays_unzip_package(tmp_path, names):
    packaging = pytest.importorskip("ray._private.runtime_env.packaging")
    archive = make_zip(tmp_path / "pkg.zip", names)
    ours, _ = unpack(archive, tmp_path / "ours")
    shutil.copy(archive, tmp_path / "theirs.zip")
    packaging.unzip_package(str(tmp_path / "theirs.zip"), str(tmp_path / "theirs"), True, True)

    def tree(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*")}

    assert tree(ours) == tree(tmp_path / "theirs")


def test_credentials_precedence_matches_requests(tmp_path, monkeypatch):
    """netrc beats URL userinfo beats the bearer variable, as requests (hence Ray) applies them."""
    good, bad = "ghp_" + secrets.token_hex(18), "ghp_" + secrets.token_hex(18)
    src = tmp_path / "repo"
    src.mkdir()
    (src / "app.py").write_text("app = None\n")
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "-m", "x")
    sha = git(src, "rev-parse", "HEAD")
    with ArchiveServer(src, tokens={good}) as server:
        monkeypatch.setenv("NETRC", str(write_netrc(tmp_path / "netrc", "127.0.0.1", bad)))
        monkeypatch.setenv("RAY_RUNTIME_ENV_BEARER_TOKEN", good)
        url = server.archive_url(sha, userinfo=f"x-access-token:{good}")
        creds = credentials_for(url)
        assert creds.source == "netrc" and len(creds.ignored) == 2
        result = download(url, tmp_path / "dl", timeout=10)
        assert not result.ok and result.kind == "http_404"  # the bad .netrc won over both good tokens
        assert good not in result.error and bad not in result.error and "***" in result.error
        monkeypatch.setenv("NETRC", str(tmp_path / "none"))
        assert credentials_for(url).source == "url"
        assert download(url, tmp_path / "dl2", timeout=10).ok
        assert download(server.archive_url(sha), tmp_path / "dl3", timeout=10).ok  # bearer
        assert [s.auth for s in server.requests_seen] == ["basic", "basic", "bearer"]


def test_redact_covers_request_errors_and_headers():
    token = "ghp_" + secrets.token_hex(18)
    text = (
        f"404 Client Error: Not Found for url: http://x-access-token:{token}@127.0.0.1:1/o/r/archive/a.zip "
        f"Authorization: Bearer {token} machine h login x password {token}"
    )
    assert token not in redact(text)


def test_dependencies_against_a_cluster_freeze():
    lock = "# pip freeze on Python 3.11\nray==2.60.0\ntorch==2.13.0\ntransformers==5.23.0\nrich==15.0.0\n"
    env = Environment("image.txt", parse_pins("ray==2.9.3\ntorch==2.13.0+cu121\nrich==14.0.0\n"), python="3.10.14")
    found = {(f.level, f.message.split(" ")[0]) for f in compare(lock, env)}
    assert ("error", "Python") in found and ("error", "ray") in found
    assert ("error", "transformers==5.23.0") in found  # locked but missing
    assert ("info", "torch") in found  # +cu121 is a build label, not a conflict
    assert ("info", "1") in found  # "1 other locked package(s) differ": rich
    same = Environment("venv", parse_pins(lock), python="3.11.9")
    assert [f.level for f in compare(lock, same)] == ["ok"]


def test_gpu_targets(tmp_path, monkeypatch):
    (tmp_path / "k8s").mkdir()
    shutil.copy(ROOT / "tests/unit/data/rayservice.yaml", tmp_path / "k8s/rayservice.yaml")
    groups = k8s_groups(tmp_path)
    assert [(g.name, g.gpus) for g in groups] == [("head", 0), ("gpu", 1)]
    needs = gpu_needs([{"name": "Embedder", "ray_actor_options": {"num_gpus": 1}}], [{"name": "Embedder"}])
    assert [f.level for f in check_gpus(needs, "k8s", tmp_path) if f.level != "info"] == ["ok"]
    assert check_gpus({"Embedder": 2}, "k8s", tmp_path)[0].level == "error"
    text = (
        (tmp_path / "k8s/rayservice.yaml")
        .read_text()
        .replace("limits: {nvidia.com/gpu: 1}", "requests: {nvidia.com/gpu: 1}")
    )
    (tmp_path / "k8s/rayservice.yaml").write_text(text)
    levels = [f.level for f in check_gpus(needs, "k8s", tmp_path)]
    assert levels[:2] == ["warning", "error"]  # request without limit: Ray sees 0 GPUs (ray#59265)
    monkeypatch.setenv("TOPICSERVE_FORCE_CPU", "1")
    assert check_gpus(needs, "local", tmp_path)[0].level == "error"
    assert check_gpus({}, "local", tmp_path)[0].level == "ok"


@pytest.mark.parametrize(
    ("state", "errors"),
    [
        ({"name": "State", "num_replicas": 1}, 0),
        ({"name": "State"}, 0),
        ({"name": "State", "num_replicas": 2}, 1),
        ({"name": "State", "autoscaling_config": {"min_replicas": 1, "max_replicas": 3}}, 1),
    ],
)
def test_state_must_stay_a_single_writer(state, errors):
    from topicserve.preflight.run import single_writer_findings

    found = single_writer_findings({"deployments": [{"name": "Ingress", "num_replicas": 4}, state]}, "app")
    assert len(found) == errors
    assert all("single writer" in f.message and f.level == "error" for f in found)
