"""A real local S3 server (moto's server mode) for the store tests, behind a loopback proxy that
fails PUT/POST requests while armed (after letting a given number through, so a write can fail
part-way). Fixtures: ``moto`` (its port) and ``proxy`` (the FailingProxy), once per session,
``s3`` (a fresh bucket per test, the proxy disarmed: its URI and the Settings that reach it through
the proxy); tests under tests/unit/store/ get them from that folder's conftest.py."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.support import ROOT
from topicserve.settings import Settings
from topicserve.store import DocumentStore


def moto_server_path() -> Path:
    path = Path(os.environ.get("TOPICSERVE_MOTO_SERVER") or ROOT / ".venv-moto" / "bin" / "moto_server")
    if not path.exists():
        pytest.fail(
            f"moto's S3 server is missing at {path}: run `make moto-venv` (builds .venv-moto from "
            "requirements-moto.lock) or set TOPICSERVE_MOTO_SERVER to a moto_server binary",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto():
    port = free_port()
    proc = subprocess.Popen(
        [str(moto_server_path()), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(url, timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow on a loaded machine
                time.sleep(0.1)
        else:
            pytest.fail("moto server did not start", pytrace=False)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class FailingProxy(ThreadingHTTPServer):
    """Forwards every request to moto; while armed, PUT/POST past the first ``allow`` fail with 500.

    Hand-written on purpose: the point is to refuse specific object-store writes mid-commit, which
    needs a few lines of http.server rather than a general proxy library.
    """

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port, self.armed, self.allow, self.failed = upstream_port, False, 0, 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    def arm(self, allow: int = 0) -> None:
        with self.lock:
            self.armed, self.allow, self.failed = True, allow, 0

    def disarm(self) -> None:
        with self.lock:
            self.armed = False

    def should_fail(self, method: str) -> bool:
        with self.lock:
            if not self.armed or method not in ("PUT", "POST"):
                return False
            if self.allow > 0:
                self.allow -= 1
                return False
            self.failed += 1
            return True


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.should_fail(self.command):
            error = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Length", str(len(error)))
            self.end_headers()
            self.wfile.write(error)
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


@pytest.fixture(scope="session")
def proxy(moto):
    server = FailingProxy(moto)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def s3(proxy, monkeypatch):
    """A fresh bucket (created with a plain HTTP PUT) and settings that reach it through the proxy."""
    proxy.disarm()  # whatever an earlier test left armed
    bucket = f"b{uuid.uuid4().hex[:12]}"
    assert requests.put(f"http://127.0.0.1:{proxy.upstream_port}/{bucket}", timeout=10).status_code == 200
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
    settings = Settings(storage_endpoint=endpoint, storage_retries=1, storage_retry_timeout_s=2)
    return f"s3://{bucket}/stores/one", settings


def open_s3(s3) -> DocumentStore:
    uri, settings = s3
    return DocumentStore(uri, settings=settings, background=False)
