"""`pin`: point every application's ``working_dir`` at the archive of the current commit.

``serve_config.yaml`` is rewritten with ruamel.yaml round-trip (comments, quoting and indentation
kept); YAML under ``k8s/`` that embeds the Serve config (a RayService ``serveConfigV2``) or holds a
``working_dir:`` archive URL gets the same URLs replaced in place, byte for byte elsewhere.

owner/repo: ``--repo``, else the ``origin`` remote (https or ssh form), else the setting
``TOPICSERVE_PIN_REPO``, else kept from the URL already in the file. Credentials never get
written: userinfo in a remote or an old URL is dropped, with a warning.
"""

from __future__ import annotations

import difflib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topicserve.errors import InvalidInput
from topicserve.gitarchive import ARCHIVE_URL, Remote, dirty_paths, git, is_pushed, parse_remote
from topicserve.redact import has_userinfo, redact, strip_userinfo


@dataclass
class PinPlan:
    sha: str
    repo_flag: str = ""
    origin: Remote | None = None
    setting_repo: str = ""
    archive_base: str = ""
    warnings: list[str] = field(default_factory=list)

    def url_for(self, old: str | None) -> str:
        """The pinned archive URL replacing ``old`` (may be None or a non-archive value)."""
        match = ARCHIVE_URL.search(strip_userinfo(old)) if old else None
        if old and has_userinfo(old):
            self.warnings.append(
                f"dropped credentials from working_dir {redact(old)}: use a .netrc (NETRC) or "
                "RAY_RUNTIME_ENV_BEARER_TOKEN where Ray runs instead"
            )
        repo = self.repo_flag or (f"{self.origin.owner}/{self.origin.repo}" if self.origin else "")
        repo = repo or self.setting_repo or (f"{match['owner']}/{match['repo']}" if match else "")
        if not repo:
            raise InvalidInput(
                "cannot tell owner/repo: no origin remote, no TOPICSERVE_PIN_REPO and no archive URL in the "
                "file; pass --repo OWNER/REPO"
            )
        base = self.archive_base or (self.origin.base if self.origin and not self.repo_flag else "")
        base = base or (match["base"] if match else "https://github.com")
        return f"{base.rstrip('/')}/{repo}/archive/{self.sha}.zip"


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    return y


def pin_serve_config_text(text: str, plan: PinPlan) -> tuple[str, list[tuple[str, str, str]]]:
    """Rewrite ``applications[*].runtime_env.working_dir``; returns (text, [(app, old, new)])."""
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, block_seq_indent = load_yaml_guess_indent(text)
    y = _yaml()
    y.indent(mapping=2, sequence=indent or 2, offset=block_seq_indent or 0)
    data = y.load(text)
    apps = (data or {}).get("applications") if isinstance(data, dict) else None
    if not apps:
        raise InvalidInput("no `applications:` in the Serve config")
    changes = []
    for app in apps:
        env = app.get("runtime_env")
        if env is None:
            app["runtime_env"] = env = {}
        old = env.get("working_dir")
        new = plan.url_for(old)
        if old != new:
            env["working_dir"] = new
            changes.append((app.get("name", "default"), old or "", new))
    if not changes:
        return text, []
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue(), changes


def _walk_urls(node: Any, found: list[str]) -> None:
    """Archive URLs a k8s YAML document holds: serveConfigV2 apps, working_dir keys, embedded YAML text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "working_dir" and isinstance(value, str) and ARCHIVE_URL.search(value):
                found.append(value)
            else:
                _walk_urls(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk_urls(item, found)
    elif isinstance(node, str) and "working_dir" in node:
        for line in node.splitlines():
            key, _, value = line.strip().partition(":")
            value = value.strip().strip("\"'")
            if key.strip().lstrip("- ") == "working_dir" and ARCHIVE_URL.search(value):
                found.append(value)


def pin_embedded_text(text: str, plan: PinPlan) -> tuple[str, list[tuple[str, str, str]]]:
    """Replace the archive URLs found in a (multi-document) k8s YAML file, leaving every other byte."""
    found: list[str] = []
    for doc in _yaml().load_all(text):
        _walk_urls(doc, found)
    changes = []
    for old in dict.fromkeys(found):
        new = plan.url_for(old)
        if old != new:
            if old not in text:
                raise InvalidInput(f"working_dir {redact(old)} is wrapped or escaped in the file; edit it by hand")
            text = text.replace(old, new)
            changes.append(("", old, new))
    return text, changes


def k8s_files(root: Path) -> list[Path]:
    """YAML under k8s/ holding an archive URL in an embedded Serve config or a working_dir key."""
    base = root / "k8s"
    if not base.is_dir():
        return []
    hits = []
    for path in sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")]):
        text = path.read_text()
        if ("serveConfigV2" in text or "working_dir" in text) and ARCHIVE_URL.search(text):
            hits.append(path)
    return hits


def pin(args) -> int:
    from topicserve.settings import get_settings

    config = Path(args.config).resolve()
    root = Path(git(config.parent, "rev-parse", "--show-toplevel"))
    dirty = dirty_paths(root)
    if dirty and not args.dry_run:
        shown = "\n  ".join(dirty[:10]) + ("\n  …" if len(dirty) > 10 else "")
        raise InvalidInput(
            f"refusing to pin: the working tree has uncommitted changes, and the archive URL can only "
            f"serve committed files:\n  {shown}\ncommit (and push) them, or stash them, then run `make pin` again"
        )
    sha = git(root, "rev-parse", f"{args.rev}^{{commit}}")
    settings = get_settings()
    origin_url = git(root, "remote", "get-url", "origin", check=False)
    plan = PinPlan(
        sha,
        repo_flag=args.repo or "",
        origin=parse_remote(origin_url) if origin_url else None,
        setting_repo=settings.pin_repo,
        archive_base=args.archive_base or "",
    )
    if plan.origin and plan.origin.had_credentials:
        plan.warnings.append("the origin remote URL holds credentials; they are not copied into any file")
    targets = [(config, pin_serve_config_text)] + [(p, pin_embedded_text) for p in k8s_files(root)]
    for path, rewrite in targets:
        old_text = path.read_text()
        new_text, changes = rewrite(old_text, plan)
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        for app, old, new in changes:
            print(f"{rel}: {app + ': ' if app else ''}{redact(old) or '(none)'} -> {new}")
        if not changes:
            print(f"{rel}: already pinned to {sha[:12]}")
        elif args.dry_run:
            sys.stdout.writelines(
                redact(line)
                for line in difflib.unified_diff(
                    old_text.splitlines(True), new_text.splitlines(True), f"a/{rel}", f"b/{rel}"
                )
            )
        else:
            path.write_text(new_text)
    for warning in dict.fromkeys(plan.warnings):
        print(f"warning: {warning}", file=sys.stderr)
    pushed = is_pushed(root, sha)
    if pushed is False:
        print(f"warning: {sha[:12]} is on no remote-tracking branch: `git push` it before deploying", file=sys.stderr)
    if not args.dry_run:
        print(f"pinned to {sha}. Next: commit the config, push, then `make preflight`.")
    return 0


def register(sub) -> None:
    p = sub.add_parser("pin", help="point working_dir at the GitHub archive of the current commit")
    p.add_argument("--config", default="serve_config.yaml")
    p.add_argument("--repo", help="OWNER/REPO of the archive URL (default: from the origin remote)")
    p.add_argument("--archive-base", help="scheme://host of the archive URL (default: the remote's host)")
    p.add_argument("--rev", default="HEAD", help="commit to pin (default HEAD)")
    p.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    p.set_defaults(func=pin)
