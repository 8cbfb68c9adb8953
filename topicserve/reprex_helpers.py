"""Small helpers the `reprex/` notebooks share (Ray-free; the notebooks never import ray)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import yaml

from topicserve.pin import ARCHIVE_URL, git, github_archive, resolve_commit
from topicserve.preflight.findings import Finding
from topicserve.preflight.importcheck import worker_env
from topicserve.redact import redact, strip_userinfo


def repo_root(start: Path | None = None) -> Path:
    start = (start or Path.cwd()).resolve()
    return next(p for p in [start, *start.parents] if (p / "topicserve" / "__init__.py").exists())


def first_app(config_path: Path) -> dict:
    return yaml.safe_load(Path(config_path).read_text())["applications"][0]


def pinned_commit(root: Path, working_dir: str) -> tuple[str, str, str]:
    """(owner, repo, sha) of an archive URL; the sha falls back to HEAD when the checkout lacks it."""
    match = ARCHIVE_URL.search(strip_userinfo(working_dir or ""))
    owner, repo, ref = (match["owner"], match["repo"], match["ref"]) if match else ("topicserve", root.name, "HEAD")
    sha = resolve_commit(root, ref) or git(root, "rev-parse", "HEAD^{commit}")
    return owner, repo, sha


def project_archive(root: Path, working_dir: str, out_dir: Path) -> tuple[Path, str]:
    """The zip GitHub would serve for the pinned commit, built locally with ``git archive``."""
    _, repo, sha = pinned_commit(root, working_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{repo}-{sha}.zip"
    path.write_bytes(github_archive(root, sha, f"{repo}-{sha}"))
    return path, sha


def github_style_zip(src: Path, dest: Path, top: str) -> Path:
    """Zip the files under ``src`` inside one top folder ``top/``, as GitHub's archive endpoint does."""
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(src)}")
    return dest


def write_tree(base: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    return base


def locate(root: Path, module: str) -> str:
    """Where a worker for this working_dir would find ``module`` (importlib.util.find_spec, nothing run)."""
    code = (
        "import importlib.util, sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')];"
        f"s = importlib.util.find_spec({module.split('.')[0]!r});"
        "print(s.origin if s and s.origin else (list(s.submodule_search_locations) if s else 'not found'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=worker_env(root), capture_output=True, text=True)
    return (out.stdout or out.stderr).strip()


def show(findings: list[Finding], levels: tuple[str, ...] = ("error", "warning", "info", "ok"), secrets=()) -> None:
    for finding in findings:
        if finding.level in levels:
            print(redact(finding.line(), list(secrets)))


@contextmanager
def credentials_env(netrc: Path | None = None, bearer: str | None = None):
    """Set NETRC / RAY_RUNTIME_ENV_BEARER_TOKEN for a block (the variables Ray's nodes would have)."""
    saved = {k: os.environ.get(k) for k in ("NETRC", "RAY_RUNTIME_ENV_BEARER_TOKEN")}
    os.environ["NETRC"] = str(netrc) if netrc else os.devnull
    if bearer:
        os.environ["RAY_RUNTIME_ENV_BEARER_TOKEN"] = bearer
    else:
        os.environ.pop("RAY_RUNTIME_ENV_BEARER_TOKEN", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
