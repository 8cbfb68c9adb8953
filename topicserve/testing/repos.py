"""Throwaway git repositories for tests and notebooks: a working clone plus a bare "remote".

``fixture_repo(src, base)`` copies the files of checkout ``src`` (tracked and untracked, not
ignored: the code as it is now) into ``base/work``, commits them, and pushes to ``base/remote.git``,
which an ``ArchiveServer`` can serve; ``origin`` of the clone points at it, so "pushed" and
"not pushed" mean what they mean on GitHub.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_IDENTITY = [
    "-c",
    "user.name=topicserve-tests",
    "-c",
    "user.email=tests@topicserve.invalid",
    "-c",
    "commit.gpgsign=false",
]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class FixtureRepo:
    work: Path
    remote: Path
    sha: str  # the first, pushed commit

    def commit(self, message: str, files: dict[str, str | None], *, push: bool, branch: str = "") -> str:
        """Commit file changes (None deletes) on ``branch`` (default: the current one); push if asked."""
        if branch:
            git(self.work, "checkout", "-q", "-B", branch, self.sha)
        for rel, text in files.items():
            path = self.work / rel
            if text is None:
                git(self.work, "rm", "-q", rel)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
                git(self.work, "add", rel)
        git(self.work, "commit", "-q", "-m", message)
        sha = git(self.work, "rev-parse", "HEAD")
        if push:
            git(self.work, "push", "-q", "origin", f"HEAD:refs/heads/{branch or 'main'}")
        if branch:
            git(self.work, "checkout", "-q", "main")
        return sha


def tracked_files(src: Path) -> list[str]:
    return git(src, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()


def fixture_repo(src: Path, base: Path, *, include: list[str] | None = None) -> FixtureRepo:
    """A clone-with-remote holding ``src``'s current files (or only those under ``include``)."""
    work, remote = base / "work", base / "remote.git"
    work.mkdir(parents=True)
    for rel in tracked_files(src):
        if include is not None and not any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in include):
            continue
        if not (src / rel).is_file():
            continue  # deleted in the working tree
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, work / rel)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "fixture: copy of the checkout")
    git(base, "init", "-q", "--bare", "-b", "main", str(remote))
    git(work, "remote", "add", "origin", str(remote))
    git(work, "push", "-q", "-u", "origin", "main")
    return FixtureRepo(work, remote, git(work, "rev-parse", "HEAD"))
