"""`python -m topicserve pin`: archive URL of HEAD, comments kept, k8s copies too, no tokens, no dirty trees."""

from __future__ import annotations

import difflib
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from topicserve.gitarchive import parse_remote
from topicserve.testing.repos import fixture_repo, git

OLD_SHA = "6dabd797cb2becd66ca834f6f66989f120f9f953"


def run_pin(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "topicserve", "pin", "--config", str(repo / "serve_config.yaml"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def changed_lines(old: str, new: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture
def repo(tmp_path):
    """serve_config.yaml (with a token in its URL) and a k8s RayService, committed and pushed."""
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q")
    token = "ghp_" + secrets.token_hex(18)
    url = f"https://x-access-token:{token}@github.com/topicserve/topicserve/archive/{OLD_SHA}.zip"
    text = re.sub(r"working_dir: \S+", f"working_dir: {url}", (ROOT / "serve_config.yaml").read_text())
    (src / "serve_config.yaml").write_text(text)
    (src / "k8s").mkdir()
    shutil.copy(ROOT / "tests/unit/data/rayservice.yaml", src / "k8s/rayservice.yaml")
    fx = fixture_repo(src, tmp_path / "fx")
    fx.token = token
    return fx


def test_parse_remote_forms():
    assert parse_remote("https://github.com/acme/widgets.git").owner == "acme"
    assert parse_remote("git@github.com:acme/widgets.git").repo == "widgets"
    assert parse_remote("ssh://git@github.com:22/acme/widgets").base == "https://github.com"
    with_token = parse_remote("https://x-access-token:abc123456@github.com/acme/widgets")
    assert (with_token.owner, with_token.repo, with_token.had_credentials) == ("acme", "widgets", True)
    assert parse_remote("/srv/git/widgets.git") is None
    assert parse_remote("https://github.com/acme") is None


def test_pin_rewrites_only_working_dir_and_drops_the_token(repo):
    config, k8s = repo.work / "serve_config.yaml", repo.work / "k8s/rayservice.yaml"
    before, k8s_before = config.read_text(), k8s.read_text()
    proc = run_pin(repo.work)
    assert proc.returncode == 0, proc.stderr
    after, k8s_after = config.read_text(), k8s.read_text()
    url = f"https://github.com/topicserve/topicserve/archive/{repo.sha}.zip"
    # serve_config.yaml: exactly one line changed, comments and layout kept, token gone
    diff = changed_lines(before, after)
    assert len(diff) == 2, diff
    assert diff[1].endswith(f"working_dir: {url}") and "# Private repository?" in after
    assert repo.token not in after and repo.token not in proc.stdout + proc.stderr
    assert "dropped credentials" in proc.stderr
    # k8s: both embedded copies point at the new commit; nothing else moved
    k8s_diff = changed_lines(k8s_before, k8s_after)
    assert len(k8s_diff) == 4, k8s_diff
    assert all((OLD_SHA if line[0] == "-" else repo.sha) in line for line in k8s_diff), k8s_diff
    assert k8s_after.count(url) == 2 and OLD_SHA not in k8s_after
    assert k8s_after.replace(repo.sha, OLD_SHA) == k8s_before


def test_pin_uses_origin_owner_repo_without_its_credentials(repo):
    token = "ghp_" + secrets.token_hex(18)
    git(repo.work, "remote", "set-url", "origin", f"https://x-access-token:{token}@github.com/acme/widgets.git")
    proc = run_pin(repo.work)
    assert proc.returncode == 0, proc.stderr
    text = (repo.work / "serve_config.yaml").read_text()
    assert f"working_dir: https://github.com/acme/widgets/archive/{repo.sha}.zip" in text
    assert token not in text + proc.stdout + proc.stderr
    assert "acme/widgets" in (repo.work / "k8s/rayservice.yaml").read_text()


def test_pin_repo_flag_and_archive_base(repo):
    proc = run_pin(repo.work, "--repo", "org/svc", "--archive-base", "http://127.0.0.1:9")
    assert proc.returncode == 0, proc.stderr
    assert f"http://127.0.0.1:9/org/svc/archive/{repo.sha}.zip" in (repo.work / "serve_config.yaml").read_text()


def test_pin_refuses_a_dirty_tree(repo):
    config = repo.work / "serve_config.yaml"
    before = config.read_text()
    (repo.work / "k8s/rayservice.yaml").write_text("# edited\n" + (repo.work / "k8s/rayservice.yaml").read_text())
    (repo.work / "helpers.py").write_text("x = 1\n")
    proc = run_pin(repo.work)
    assert proc.returncode == 1
    assert "refusing to pin" in proc.stderr and "k8s/rayservice.yaml" in proc.stderr and "helpers.py" in proc.stderr
    assert config.read_text() == before


def test_pin_warns_when_head_is_not_pushed(repo):
    sha = repo.commit("local only", {"notes.txt": "x\n"}, push=False)
    proc = run_pin(repo.work)
    assert proc.returncode == 0
    assert sha in (repo.work / "serve_config.yaml").read_text()
    assert "is on no remote-tracking branch" in proc.stderr
