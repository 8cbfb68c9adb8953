"""A loopback OpenAI-compatible chat server for the LLM backend tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chat_reply(content: str) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "loopback",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


class ChatServer:
    """A loopback server speaking /v1/chat/completions. ``script`` is a list of steps, used in
    order (the last one repeats): ("reply", content) | ("status", code) | ("sleep", seconds, content)
    | ("raw", body) — or a callable(request_json) -> content."""

    def __init__(self) -> None:
        self.script: list = [("reply", "[]")]
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                server.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
                step = server.script[min(len(server.requests) - 1, len(server.script) - 1)]
                if callable(step):
                    step = ("reply", step(body))
                kind = step[0]
                if kind == "status":
                    return self._send(step[1], b'{"error": {"message": "boom"}}')
                if kind == "sleep":
                    time.sleep(step[1])
                    step = ("reply", step[2])
                if kind == "raw":
                    return self._send(200, step[1].encode())
                return self._send(200, json.dumps(chat_reply(step[1])).encode())

            def _send(self, code: int, data: bytes) -> None:
                try:
                    self.send_response(code)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
