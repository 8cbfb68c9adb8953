"""The client's retries against a real loopback HTTP server: Retry-After honoured, bounded, 4xx not retried."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from topicserve.cli import main
from topicserve.client import ApiError, Client

OVERLOADED = {"error": {"code": "overloaded", "message": "the embedder queue is full", "field": None}}
SEARCH_OK = {"results": [{"id": "a", "text": "t", "timestamp": "2026-01-01T00:00:00Z", "metadata": {},
                          "topics": [], "score": 0.5}], "model": "m"}  # fmt: skip


@dataclass
class Script:
    """What the server answers, in order (the last answer repeats), and what it saw."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[dict] = field(default_factory=list)


def answer(status: int, body: dict | str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    kind = "text/plain" if isinstance(body, str) else "application/json"
    return status, {"Content-Type": kind, **{k.replace("_", "-"): v for k, v in headers.items()}}, data


def handler_for(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append({"at": time.monotonic(), "path": self.path, "headers": dict(self.headers), "body": body})
            status, headers, data = script.answers[min(len(script.seen), len(script.answers)) - 1]
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _reply

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(script))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_honoured_then_the_answer_comes_back(server, status):
    url, script = server
    script.answers = [answer(status, OVERLOADED, Retry_After="1"), answer(200, SEARCH_OK)]
    with Client(url, retries=3) as client:
        got = client.search("a query", 5)
    assert got == SEARCH_OK
    assert len(script.seen) == 2
    first, second = script.seen
    assert second["body"] == first["body"] and json.loads(second["body"]) == {"query": "a query", "k": 5}
    # The client slept what Retry-After said before asking again (a lower bound: sleep guarantees it).
    assert second["at"] - first["at"] >= 0.95


def test_retries_are_bounded_and_the_last_error_is_raised(server):
    url, script = server
    script.answers = [answer(503, OVERLOADED, Retry_After="0")]
    with Client(url, retries=2, backoff_factor=0) as client, pytest.raises(ApiError) as info:
        client.search("q")
    assert len(script.seen) == 3  # one try + two retries
    assert (info.value.status, info.value.code, info.value.is_client_error) == (503, "overloaded", False)


@pytest.mark.timeout(60)  # an uncapped Retry-After of an hour would hang here
def test_a_huge_retry_after_is_capped(server):
    url, script = server
    script.answers = [answer(503, OVERLOADED, Retry_After="3600"), answer(200, SEARCH_OK)]
    with Client(url, retries=1, retry_after_max=1) as client:
        assert client.search("q") == SEARCH_OK
    assert len(script.seen) == 2 and script.seen[1]["at"] - script.seen[0]["at"] >= 0.95


def test_serve_backpressure_without_json_or_retry_after_is_retried_with_backoff(server):
    url, script = server
    script.answers = [answer(503, "Service Unavailable"), answer(200, SEARCH_OK)]
    with Client(url, retries=2, backoff_factor=0.1) as client:
        assert client.search("q") == SEARCH_OK
    assert len(script.seen) == 2


def test_4xx_is_not_retried_and_the_cli_exits_2_naming_the_field(server, capsys):
    url, script = server
    bad_k = {"error": {"code": "invalid_input", "message": "k: Input should be less than or equal to 100",
                       "field": "k", "type": "invalid_input"}}  # fmt: skip
    script.answers = [answer(422, bad_k)]
    assert main(["search", "q", "-k", "1000", "--url", url]) == 2
    err = capsys.readouterr().err
    assert "HTTP 422 invalid_input" in err and "(field: k)" in err
    assert len(script.seen) == 1


def test_5xx_after_the_retries_exits_1(server, capsys):
    url, script = server
    script.answers = [answer(503, OVERLOADED, Retry_After="0")]
    assert main(["search", "q", "--url", url, "--retries", "1"]) == 1
    assert "overloaded" in capsys.readouterr().err
    assert len(script.seen) == 2


def test_the_api_key_comes_from_the_environment_and_is_never_printed(server, capsys, monkeypatch):
    url, script = server
    secret = "tsk-very-secret-1234"
    monkeypatch.setenv("TOPICSERVE_API_KEY", secret)
    script.answers = [answer(401, {"error": {"code": "unauthorized", "message": "wrong API key", "field": None}})]
    assert main(["search", "q", "--url", url]) == 2
    assert script.seen[0]["headers"]["Authorization"] == f"Bearer {secret}"
    out = capsys.readouterr()
    assert "unauthorized" in out.err and "TOPICSERVE_API_KEY" in out.err
    assert secret not in out.err + out.out


def test_an_unreachable_service_exits_1_with_a_short_reason(capsys):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]  # a port that was free a moment ago, closed again below
    assert main(["search", "q", "--url", f"http://127.0.0.1:{port}", "--retries", "0"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach http://127.0.0.1:{port}" in err and "refused" in err.lower()
