"""A loopback HTTP server that answers like GitHub's archive endpoint for a private repository.

``GET /<owner>/<repo>/archive/<sha>.zip`` returns ``git archive`` of that commit of ``repo_dir``
as a zip whose single top folder is ``<repo>-<sha>/`` (as GitHub names it), but only to valid
credentials: HTTP Basic with a valid token as password (``x-access-token:<token>@`` in the URL,
or a ``.netrc`` entry) or as user name (``<token>@``), or ``Authorization: Bearer <token>``.
Everything else gets 404, as GitHub answers for private repositories: wrong token, no token,
unknown owner/repo, a commit the repository does not have (not pushed). Fine-grained tokens
(``github_pat_…``) get 404 too when ``reject_fine_grained`` is set, the behaviour of ray#39588.

Usable as a context manager; ``requests_seen`` records (path, auth kind, status) per request.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from topicserve.gitarchive import github_archive, resolve_commit

_ARCHIVE_PATH = re.compile(r"^/(?P<owner>[^/]+)/(?P<repo>[^/]+)/archive/(?P<ref>[0-9a-fA-F]{7,40})\.zip$")


@dataclass
class Seen:
    path: str
    auth: str  # "none" | "basic" | "bearer" | "other"
    status: int


@dataclass
class ArchiveServer:
    repo_dir: Path
    owner: str = "topicserve"
    repo: str = "topicserve"
    tokens: set[str] = field(default_factory=set)
    reject_fine_grained: bool = True
    host: str = "127.0.0.1"
    requests_seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.repo_dir = Path(self.repo_dir)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cache: dict[str, bytes] = {}

    # -- URLs ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def archive_url(self, sha: str, *, userinfo: str = "", owner: str | None = None, repo: str | None = None) -> str:
        auth = f"{userinfo}@" if userinfo else ""
        return f"http://{auth}{self.host}:{self.port}/{owner or self.owner}/{repo or self.repo}/archive/{sha}.zip"

    # -- behaviour -------------------------------------------------------------------------
    def authorized(self, header: str | None) -> tuple[str, bool]:
        if not header:
            return "none", False
        kind, _, value = header.partition(" ")
        kind = kind.lower()
        if kind == "bearer":
            candidates = [value.strip()]
        elif kind == "basic":
            try:
                user, _, password = base64.b64decode(value.strip()).decode().partition(":")
            except ValueError:
                return "basic", False
            candidates = [password, user]
        else:
            return "other", False
        for token in candidates:
            if token in self.tokens and not (self.reject_fine_grained and token.startswith("github_pat_")):
                return kind, True
        return kind, False

    def archive(self, ref: str) -> bytes | None:
        """``git archive`` of a commit the repository has, else None (GitHub: 404)."""
        sha = resolve_commit(self.repo_dir, ref)
        if sha is None:
            return None
        if sha not in self._cache:
            self._cache[sha] = github_archive(self.repo_dir, sha, f"{self.repo}-{ref}")
        return self._cache[sha]

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> ArchiveServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                kind, ok = server.authorized(self.headers.get("Authorization"))
                match = _ARCHIVE_PATH.match(self.path.split("?", 1)[0])
                body = None
                if ok and match and (match["owner"], match["repo"]) == (server.owner, server.repo):
                    body = server.archive(match["ref"])
                status = 200 if body is not None else 404
                server.requests_seen.append(Seen(self.path, kind, status))
                if body is None:
                    body = b'{"message": "Not Found"}'
                    ctype = "application/json"
                else:
                    ctype = "application/zip"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

            def log_message(self, format: str, *args) -> None:  # quiet; never log auth headers
                pass

        self._httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="archive-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ArchiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def write_netrc(path: Path, host: str, token: str, login: str = "x-access-token") -> Path:
    """A ``.netrc`` for ``host`` (requests matches the host without port), mode 0600."""
    path = Path(path)
    path.write_text(f"machine {host}\nlogin {login}\npassword {token}\n")
    path.chmod(0o600)
    return path
