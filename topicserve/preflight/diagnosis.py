"""What a failed working_dir download means, and what to do about it.

GitHub answers **404**, not 401, when the credentials cannot read a private repository, so a 404
has three usual causes: credentials that cannot read the repo (wrong, expired, no access, or a
fine-grained ``github_pat_`` token, which archive URLs refuse: ray#39588), a commit that was never
pushed, or a wrong owner/repo. When the local checkout knows a pushed commit, one control request
with the same credentials for that commit separates "credentials/repo" from "commit".
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from topicserve.gitarchive import ARCHIVE_URL, git, parse_remote
from topicserve.preflight.fetch import BEARER_ENV, Download
from topicserve.preflight.findings import ERROR, INFO, OK, WARNING, Finding
from topicserve.redact import has_userinfo, redact, strip_userinfo

PRIVATE_FIX = (
    "give Ray credentials without putting them in the URL: a .netrc (NETRC=/path on head and workers, "
    f"mounted from a Kubernetes Secret) or {BEARER_ENV}"
)


def pushed_commits(checkout: Path | None, exclude: str) -> list[str]:
    """Tips of remote-tracking branches (as of the last fetch), other than ``exclude``."""
    if checkout is None:
        return []
    out = git(checkout, "for-each-ref", "--format=%(objectname)", "refs/remotes", check=False)
    return [sha for sha in dict.fromkeys(out.split()) if sha != exclude]


def commit_state(checkout: Path | None, sha: str) -> str:
    """'unknown' (no checkout), 'absent', 'unpushed', 'pushed' or 'no-remote' for ``sha`` locally."""
    if checkout is None:
        return "unknown"
    if not git(checkout, "rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}", check=False):
        return "absent"
    if not git(checkout, "remote", check=False):
        return "no-remote"
    return "pushed" if git(checkout, "branch", "-r", "--contains", sha, check=False) else "unpushed"


def control_status(url: str, sha: str, control: str, timeout: float) -> int | None:
    """HTTP status for the same archive URL at a pushed commit, sent like Ray sends it."""
    import requests

    headers = {"User-Agent": "ray-runtime-env-curl/1.0", "Accept": "*/*"}
    if os.environ.get(BEARER_ENV):
        headers["Authorization"] = f"Bearer {os.environ[BEARER_ENV]}"
    try:
        with requests.get(url.replace(sha, control), headers=headers, stream=True, timeout=timeout) as resp:
            return resp.status_code
    except requests.RequestException:
        return None


def diagnose_download(dl: Download, app: str = "", checkout: Path | None = None, timeout: float = 30) -> list[Finding]:
    creds = dl.credentials
    shown = dl.shown_url
    host = urlsplit(strip_userinfo(dl.url)).netloc

    def f(level: str, message: str, fix: str = "") -> Finding:
        return Finding(level, "download", message, fix, app)

    if dl.ok:
        out = [f(OK, f"{shown}: {dl.size} bytes, sent {creds.detail if creds else 'no credentials'}")]
        out += [f(INFO, f"also present but not used: {i}") for i in (creds.ignored if creds else [])]
        return out
    if dl.kind in ("bad_uri",):
        return [f(ERROR, dl.error, "run `make pin` to write the archive URL of the current commit")]
    if dl.kind == "unsupported":
        return [f(WARNING, dl.error)]
    if dl.kind == "http_404":
        return _diagnose_404(dl, f, checkout, timeout)
    simple = {
        "http_401": ("credentials rejected (401 Unauthorized): invalid or expired token", "create a new token"),
        "http_403": (
            "forbidden (403): the token lacks a scope, is not SSO-authorized for the organisation, or hit a rate limit",
            "check the token's scopes and SSO authorization",
        ),
        "dns": (f"cannot resolve {host} (DNS): no network here or a typo in the host", "check the URL's host"),
        "refused": (f"connection refused by {host}", "is the server running and the port right?"),
        "timeout": (
            f"no answer from {host} in time (Ray gives up after 60 s too)",
            "check the network path from the Ray nodes",
        ),
        "tls": (f"TLS handshake with {host} failed", "check the certificate chain / proxy"),
        "missing_file": (
            "the file:// path does not exist here; a file:// working_dir must exist on every Ray node",
            "use an https archive URL (`make pin`) or copy the zip to every node",
        ),
        "not_a_zip": (dl.error, "point working_dir at a .zip archive (GitHub: /archive/<sha>.zip)"),
    }
    message, fix = simple.get(dl.kind, (f"download failed ({dl.kind})", "see the error below"))
    out = [f(ERROR, f"{shown}: {message}", fix)]
    if dl.error and dl.kind != "not_a_zip":
        out.append(f(INFO, f"error was: {dl.error[:400]}"))
    return out


def _diagnose_404(dl: Download, f, checkout: Path | None, timeout: float) -> list[Finding]:
    creds = dl.credentials
    shown = dl.shown_url
    if creds is None or creds.source == "none":
        return [
            f(
                ERROR,
                f"{shown}: 404 Not Found, and {creds.detail if creds else 'no credentials'} were sent. "
                "GitHub answers 404 for private repositories",
                f"private repo: {PRIVATE_FIX}; public repo: check owner/repo and that the commit is pushed",
            )
        ]
    sent = f"sent {creds.detail}" + (f", a {creds.kind}" if creds.token else "")
    match = ARCHIVE_URL.search(strip_userinfo(dl.url))
    sha = match["ref"] if match else ""
    state = commit_state(checkout, sha) if sha else "unknown"
    verdict, controls = _control_verdict(dl.url, sha, checkout, timeout)
    out = [f(INFO, line) for line in controls]
    if verdict == "commit" or (verdict is None and state in ("unpushed", "absent")):
        why = {"absent": "is not in this checkout either", "unpushed": "is on no remote-tracking branch"}.get(state, "")
        message = (
            f"{shown}: 404 Not Found ({sent}); the credentials can read the repository, but "
            f"commit {sha[:12]} is not on the remote{': it ' + why if why else ''} (not pushed?)"
        )
        return [f(ERROR, message, "git push, then `make pin` and `make preflight` again"), *out]
    causes = _likely_404_causes(creds.token, sha, state, verdict, match, checkout)
    message = f"{shown}: 404 Not Found ({sent}). Likely: " + "; or ".join(causes)
    fix = (
        "use a classic token (ghp_…, repo scope) or a GitHub App token that can read the repo; "
        "check owner/repo against `git remote -v`"
    )
    return [f(ERROR, message, fix), *out]


def _control_verdict(url: str, sha: str, checkout: Path | None, timeout: float) -> tuple[str | None, list[str]]:
    """Ask for a pushed commit with the same credentials: 200 blames the commit, 404 the credentials."""
    verdict, lines = None, []
    if sha:
        for control in pushed_commits(checkout, sha)[:1]:
            status = control_status(url, sha, control, timeout)
            verdict = {200: "commit", 404: "credentials"}.get(status or 0)
            if verdict:
                lines.append(f"control request for pushed commit {control[:12]} with the same credentials: {status}")
    return verdict, lines


def _likely_404_causes(
    token: str, sha: str, state: str, verdict: str | None, match: re.Match | None, checkout: Path | None
) -> list[str]:
    """The causes of a 404 with credentials, most likely first."""
    causes = [
        "the credentials cannot read the repository (wrong, expired or revoked token, or no access to it)",
        "a fine-grained token (github_pat_…): GitHub archive URLs answer 404 to them (ray#39588)",
        f"commit {sha[:12] or '?'} not pushed"
        + (" (it is on a remote-tracking branch, so unlikely)" if state == "pushed" else ""),
        "a wrong owner/repo in the URL",
    ]
    if token.startswith("github_pat_"):
        causes.insert(0, causes.pop(1))
    elif token.startswith(("ghp_", "ghs_", "gho_")):
        causes.pop(1)  # a classic/App/OAuth token: ray#39588 does not apply
    if verdict == "credentials":
        causes = [c for c in causes if "not pushed" not in c]
    origin = parse_remote(git(checkout, "remote", "get-url", "origin", check=False)) if checkout else None
    if match and origin and (origin.owner, origin.repo) != (match["owner"], match["repo"]):
        causes.insert(0, f"the URL names {match['owner']}/{match['repo']} but origin is {origin.owner}/{origin.repo}")
    return causes


def secret_findings(working_dir: str, env_vars: dict, app: str = "") -> list[Finding]:
    """Tokens in the config itself: they leak into `serve status`, the RayService and folder names."""
    out = []
    if working_dir and has_userinfo(working_dir):
        out.append(
            Finding(
                WARNING,
                "secrets",
                f"working_dir holds credentials ({redact(working_dir)}): Ray prints the full URL in `serve status` "
                "on failure, and it lands in the RayService, operator logs and runtime_resources folder names "
                "(ray#28253)",
                f"{PRIVATE_FIX}; `make pin` writes the URL without credentials",
                app,
            )
        )
    for key, value in (env_vars or {}).items():
        if redact(str(value)) != str(value):
            out.append(
                Finding(
                    WARNING,
                    "secrets",
                    f"env_vars.{key} holds a credential ({redact(str(value))}): it is visible in the config, "
                    "the RayService and `serve status`",
                    "read it from a Kubernetes Secret in the pod env instead",
                    app,
                )
            )
    if not out:
        out.append(Finding(OK, "secrets", "no credentials in the config", app=app))
    return out
