"""Fetch and unpack a ``working_dir`` package the way Ray's runtime-env agent does, outside Ray.

Ray (python/ray/_private/runtime_env/protocol.py, packaging.py) opens http(s) URIs with
``smart_open.open(uri, "rb", transport_params={"headers": {User-Agent, Accept, [Authorization:
Bearer $RAY_RUNTIME_ENV_BEARER_TOKEN]}, "timeout": 60})`` and ``file://`` URIs with plain
``open``; then ``unzip_package(..., remove_top_level_directory=True)``. smart_open calls
``requests.get``, so the credential sources are requests': a ``.netrc`` entry for the host
(``NETRC`` or ``~/.netrc``) wins over ``user:token@`` in the URL, which wins over the bearer
header (checked on this machine against topicserve.testing.archive_server).
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from topicserve.redact import redact, strip_userinfo, url_secrets

BEARER_ENV = "RAY_RUNTIME_ENV_BEARER_TOKEN"
USER_AGENT_ENV = "RAY_RUNTIME_ENV_HTTP_USER_AGENT"
RAY_DOWNLOAD_TIMEOUT_S = 60
REMOTE_SCHEMES = {"http", "https", "s3", "gs", "azure", "abfss", "file"}
ZIP_SUFFIXES = (".zip", ".jar")


def token_kind(token: str) -> str:
    """What a GitHub token's prefix says it is (GitHub's documented prefixes)."""
    for prefix, kind in (
        ("github_pat_", "fine-grained personal access token"),
        ("ghp_", "classic personal access token"),
        ("ghs_", "GitHub App installation token"),
        ("gho_", "OAuth token"),
        ("ghu_", "GitHub App user token"),
    ):
        if token.startswith(prefix):
            return kind
    return "token of unknown type"


@dataclass
class Credentials:
    """Which credentials a download of ``url`` sends, and which other sources it ignores."""

    source: str  # "netrc" | "url" | "bearer" | "none"
    detail: str
    token: str = ""
    ignored: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # every credential seen, to redact

    @property
    def kind(self) -> str:
        return token_kind(self.token) if self.token else ""


def credentials_for(url: str) -> Credentials:
    """The credentials requests (hence Ray) will send for ``url`` from this process's environment."""
    from requests.utils import get_netrc_auth

    parts = urlsplit(url)
    secrets: list[str] = []
    found: list[tuple[str, str, str]] = []
    netrc = get_netrc_auth(url) if parts.scheme in ("http", "https") else None
    if netrc:
        path = os.environ.get("NETRC") or "~/.netrc"
        found.append(("netrc", f".netrc ({path}) entry for {parts.hostname}", netrc[1] or netrc[0]))
        secrets += [s for s in netrc if s]
    if url_secrets(url):
        found.append(("url", "credentials in the URL (user:token@host)", url_secrets(url)[0]))
        secrets += url_secrets(url)
    bearer = os.environ.get(BEARER_ENV, "")
    if bearer and parts.scheme in ("http", "https"):
        found.append(("bearer", f"{BEARER_ENV} (Authorization: Bearer)", bearer))
        secrets.append(bearer)
    if not found:
        return Credentials(
            "none", f"no credentials (no .netrc entry for the host, none in the URL, {BEARER_ENV} unset)"
        )
    source, detail, token = found[0]
    return Credentials(source, detail, token, [f"{d} (overridden)" for _, d, _ in found[1:]], secrets)


@dataclass
class Download:
    url: str  # as configured (may hold a token: never print it unredacted)
    ok: bool
    path: Path | None = None
    size: int = 0
    kind: str = ""  # ok | http_404 | http_401 | http_403 | http_other | dns | refused | timeout | tls |
    # connection | missing_file | not_a_zip | bad_uri | unsupported
    status: int | None = None
    error: str = ""  # the exception text, redacted
    credentials: Credentials | None = None

    @property
    def shown_url(self) -> str:
        return redact(strip_userinfo(self.url))


def check_uri(url: str) -> tuple[str, str] | None:
    """What Ray rejects before downloading: (kind, message) or None when the URI is acceptable."""
    parts = urlsplit(url)
    if not parts.scheme:
        return "bad_uri", (
            f"working_dir {redact(url)!r} is a local path; `serve deploy` accepts only remote URIs "
            "or local:// (ray#29354)"
        )
    if parts.scheme == "local":
        return "unsupported", "local:// directories are used in place on each node; not checked here"
    if parts.scheme not in REMOTE_SCHEMES:
        return "bad_uri", f"working_dir scheme {parts.scheme!r} is not one Ray supports"
    if not Path(parts.path).suffix:
        return "bad_uri", "Ray rejects a package URI without a file extension (expected .zip)"
    if parts.scheme in ("s3", "gs", "azure", "abfss"):
        return "unsupported", f"{parts.scheme}:// downloads need cloud credentials; not checked here"
    return None


def _classify(exc: BaseException) -> tuple[str, int | None]:
    import requests

    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        code = exc.response.status_code
        return (f"http_{code}" if code in (401, 403, 404) else "http_other"), code
    if isinstance(exc, requests.Timeout):
        return "timeout", None
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls", None
    if isinstance(exc, FileNotFoundError):
        return "missing_file", None
    if isinstance(exc, requests.ConnectionError):
        chain: list[BaseException] = []
        seen: BaseException | None = exc
        while seen is not None and len(chain) < 10:
            chain.append(seen)
            cause = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args else None)
            seen = cause if isinstance(cause, BaseException) else None
        text = " ".join(f"{type(e).__name__} {e}" for e in chain)
        if "NameResolution" in text or "gaierror" in text or "Name or service not known" in text:
            return "dns", None
        if "Connection refused" in text or "ConnectionRefused" in text:
            return "refused", None
        return "connection", None
    return "other", None


def download(url: str, dest_dir: Path, *, timeout: float = RAY_DOWNLOAD_TIMEOUT_S) -> Download:
    """Download ``url`` into ``dest_dir`` with the same call Ray makes; never raises for I/O errors."""
    creds = credentials_for(url)
    rejected = check_uri(url)
    if rejected:
        return Download(url, False, kind=rejected[0], error=rejected[1], credentials=creds)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / ("package" + Path(urlsplit(url).path).suffix)
    try:
        if url.startswith("file://"):
            with open(url2pathname(url[len("file://") :]), "rb") as fin:
                data = fin.read()
        else:
            from smart_open import open as smart_open

            headers = {"User-Agent": os.environ.get(USER_AGENT_ENV, "ray-runtime-env-curl/1.0"), "Accept": "*/*"}
            if os.environ.get(BEARER_ENV):
                headers["Authorization"] = f"Bearer {os.environ[BEARER_ENV]}"
            params = {"headers": headers, "timeout": timeout}
            with smart_open(url, "rb", transport_params=params) as fin:
                data = fin.read()
    except Exception as exc:  # classified, never re-raised: preflight reports it
        kind, status = _classify(exc)
        return Download(
            url,
            False,
            kind=kind,
            status=status,
            error=redact(f"{type(exc).__name__}: {exc}", creds.secrets),
            credentials=creds,
        )
    dest.write_bytes(data)
    result = Download(url, True, path=dest, size=len(data), kind="ok", status=200, credentials=creds)
    if dest.suffix in ZIP_SUFFIXES and not zipfile.is_zipfile(dest):
        head = data[:200].lstrip().lower()
        what = "an HTML page (a login or error page?)" if head.startswith((b"<!doctype", b"<html")) else "not a zip"
        result.ok, result.kind, result.error = False, "not_a_zip", f"the {len(data)} bytes downloaded are {what}"
    return result


def top_level_dir(zip_path: Path) -> str | None:
    """The single top folder Ray strips (``get_top_level_dir_from_compressed_package``), or None."""
    top = None
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            if "/" not in name:
                return None
            first = name.split("/")[0]
            if first == "__MACOSX":
                continue
            if not first or first in (".", "..") or "\\" in first:
                return None
            if top is None:
                top = first
            elif first != top:
                return None
    return top


def unpack(zip_path: Path, target_dir: Path) -> tuple[Path, str | None]:
    """Extract like Ray's ``unzip_package(remove_top_level_directory=True)``: (root, stripped folder)."""
    target_dir.mkdir(parents=True, exist_ok=True)
    real = target_dir.resolve()
    with zipfile.ZipFile(zip_path) as zf:
        for member in zf.namelist():
            dest = (target_dir / member).resolve()
            if "\\" in member or os.path.isabs(member) or os.path.commonpath([real, dest]) != str(real):
                continue  # Ray skips unsafe paths too
            if member.endswith("/"):
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
            mode = zf.getinfo(member).external_attr >> 16
            if mode:
                os.chmod(dest, mode)
    top = top_level_dir(zip_path)
    if top is not None:
        shutil.rmtree(target_dir / "__MACOSX", ignore_errors=True)
        inner = target_dir / top
        if inner.is_dir():
            staging = target_dir.parent / (target_dir.name + ".strip")
            inner.rename(staging)
            for child in staging.iterdir():
                child.rename(target_dir / child.name)
            staging.rmdir()
    return target_dir, top


def root_listing(root: Path, limit: int = 12) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    more = f", … (+{len(names) - limit})" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
