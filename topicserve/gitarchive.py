"""Git and GitHub-archive plumbing, in one place: running git, resolving commits, parsing remotes,
GitHub archive URLs, and building the zip GitHub's archive endpoint serves.

Used by `pin` (archive URLs into serve_config.yaml), `up` (a local zip of the checkout), preflight
(is the pinned commit pushed?), the reprex notebooks and the loopback archive server of the tests.
Git itself does the work (`git archive`, `git rev-parse`); nothing here reimplements it.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from topicserve.errors import InvalidInput
from topicserve.redact import has_userinfo, redact, strip_userinfo

ARCHIVE_URL = re.compile(
    r"(?P<base>https?://[^/\s\"']+)/(?P<owner>[^/\s\"']+)/(?P<repo>[^/\s\"']+)/archive/(?P<ref>[^/\s\"']+?)\.zip"
)
SHA = re.compile(r"^[0-9a-f]{40}$")
_SCP_REMOTE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?P<path>[^/\s].*)$")


# ---- git ------------------------------------------------------------------------------------
def git(root: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise InvalidInput(f"git {' '.join(args)} failed in {root}: {redact(proc.stderr.strip())}")
    return proc.stdout.strip()


def repo_root(start: Path | None = None) -> Path:
    """The top of the git checkout holding ``start`` (default: the current directory)."""
    return Path(git(start or Path.cwd(), "rev-parse", "--show-toplevel"))


def resolve_commit(root: Path, ref: str) -> str | None:
    """The full sha of ``ref`` in the checkout at ``root``, or None when it has no such commit."""
    return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False) or None


def dirty_paths(root: Path) -> list[str]:
    return [line for line in git(root, "status", "--porcelain", "--untracked-files=normal").splitlines() if line]


def is_pushed(root: Path, sha: str) -> bool | None:
    """True when a remote-tracking branch contains ``sha`` (as of the last fetch); None without remotes."""
    if not git(root, "remote", check=False):
        return None
    return bool(git(root, "branch", "-r", "--contains", sha, check=False))


# ---- remotes --------------------------------------------------------------------------------
@dataclass
class Remote:
    base: str  # https://github.com
    owner: str
    repo: str
    had_credentials: bool = False


def parse_remote(url: str) -> Remote | None:
    """owner/repo of a GitHub-like remote: https://host/o/r(.git), ssh://git@host[:port]/o/r, git@host:o/r."""
    url = url.strip()
    scp = _SCP_REMOTE.match(url) if "://" not in url else None
    if scp:
        host, path = scp["host"], scp["path"]
    elif url.startswith(("https://", "http://", "ssh://", "git://", "git+ssh://")):
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    else:
        return None  # a local path or an unknown form
    bits = [b for b in path.strip("/").removesuffix(".git").split("/") if b]
    if not host or len(bits) != 2:
        return None
    scheme = "http" if url.startswith("http://") else "https"
    return Remote(f"{scheme}://{host}", bits[0], bits[1], had_credentials=url.startswith("http") and has_userinfo(url))


# ---- archives -------------------------------------------------------------------------------
def github_archive(root: Path, sha: str, top: str) -> bytes:
    """The zip GitHub's archive endpoint serves for ``sha``: its tree inside one ``top/`` folder."""
    out = subprocess.run(["git", "archive", "--format=zip", f"--prefix={top}/", sha], cwd=root, capture_output=True)
    if out.returncode != 0:
        raise InvalidInput(f"git archive {sha} failed in {root}: {redact(out.stderr.decode(errors='replace').strip())}")
    return out.stdout


def archive_repo_name(config: dict[str, Any], root: Path) -> str:
    """The repository name GitHub would put in the archive's top folder."""
    for app in config.get("applications", []):
        match = ARCHIVE_URL.search(app.get("runtime_env", {}).get("working_dir", ""))
        if match:
            return match.group("repo")
    return root.name


def build_archive(root: Path, out_dir: Path, repo: str) -> tuple[Path, str]:
    """Zip the checkout as GitHub's archive endpoint would: ``<repo>-<sha>/`` holding the tree.

    Tracked files are taken as they are in the working tree (uncommitted edits included, via
    ``git stash create``); untracked files are not, exactly as a push would leave them out.
    """
    sha = git(root, "stash", "create") or git(root, "rev-parse", "HEAD")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{repo}-{sha}.zip"
    if not path.exists():
        path.write_bytes(github_archive(root, sha, f"{repo}-{sha}"))
    return path, sha


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
    """Zip the files under ``src`` inside one top folder ``top/``, as GitHub's archive endpoint does
    (for a directory that is not a git checkout; a checkout goes through ``github_archive``)."""
    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(src)}")
    return dest
