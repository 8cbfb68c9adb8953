"""A table of bad inputs across every route, and the checks each one must pass.

Run by tests/unit/api/test_bad_inputs.py (the in-process app) and tests/e2e/test_bad_inputs.py (the
deployed app), both with an API key set. Every case must answer its status with the one JSON error
shape naming its field, leak nothing of the server (paths, storage location, key, tracebacks), and
write nothing (the document count in /readyz does not change).

Limits assumed here are the defaults of topicserve/settings.py, with a 1 MiB body limit (the e2e
deployment's, and the unit app's).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

API_KEY = "tk-bad-inputs-9f2c7e1d5a"
BODY_LIMIT = 1_048_576
MAX_CHARS = 100_000  # max_text_chars
_UNSET = object()


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    field: str | None
    json: Any = _UNSET
    raw: bytes | None = None  # sent as is, as application/json (NaN, lone surrogates, broken JSON)
    chunks: Callable[[], Iterator[bytes]] | None = None  # sent chunked, without a Content-Length
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    key: str | None = API_KEY  # the bearer token sent; None: no Authorization header

    def request_kwargs(self, body_arg: str) -> dict[str, Any]:
        """Keyword arguments for httpx (``body_arg="content"``) or requests (``"data"``)."""
        headers = dict(self.headers)
        if self.key is not None:
            headers.setdefault("Authorization", f"Bearer {self.key}")
        kwargs: dict[str, Any] = {"headers": headers, "params": self.params}
        if self.json is not _UNSET:
            kwargs[body_arg] = json.dumps(self.json).encode()
        elif self.raw is not None:
            kwargs[body_arg] = self.raw
        elif self.chunks is not None:
            kwargs[body_arg] = self.chunks()
        if body_arg in kwargs:
            headers.setdefault("Content-Type", "application/json")
        return kwargs


def check_response(case: Case, status: int, headers: Any, text: str, forbidden: list[str]) -> None:
    """The status, the error shape and field, a request id, and no server detail in the body."""
    assert status == case.status, f"{case.name}: {status} {text[:300]}"
    assert headers.get("x-request-id"), f"{case.name}: no X-Request-ID"
    error = json.loads(text)["error"]
    assert {"code", "message", "field", "type", "request_id"} <= set(error), f"{case.name}: {error}"
    assert error["message"] and isinstance(error["code"], str), f"{case.name}: {error}"
    assert error["field"] == case.field, f"{case.name}: field {error['field']!r}, expected {case.field!r}: {error}"
    for secret in [*forbidden, API_KEY, "Traceback", 'File "/', "etc/passwd", "/dev/zero", "root:x:0"]:
        assert secret not in text, f"{case.name}: the body leaks {secret!r}: {text[:300]}"


# ---- building blocks ----------------------------------------------------------------------------
def doc(**over: Any) -> dict:
    return {"id": "bad-doc", "text": "A fresco in the chapel.", **over}


def docs(*items: dict) -> dict:
    return {"documents": list(items)}


def raw_doc(fragment: str) -> bytes:
    """A one-document body with ``fragment`` spliced in as raw JSON text (for NaN, \\ud800, ...)."""
    return ('{"documents": [{"id": "bad-doc", "text": "ok", ' + fragment + "}]}").encode()


def labels(n: int, **extra: Any) -> list[dict]:
    return [{"label": f"topic {i}", **extra} for i in range(n)]


# 20 labels x 10 different 200-char examples: 40,000 characters of label text, each one embedded
BOMB = [{"label": f"bomb {i}", "examples": [f"{i}.{j} " + "x" * 200 for j in range(10)]} for i in range(20)]
EVAL_ITEM = {"text": "A marble bust carved for the cardinal.", "human_topics": ["sculpture"]}
LONG = "x" * MAX_CHARS  # as long as one text may be; three of them are over the per-request budget


def evaluate(against: Any = _UNSET, **over: Any) -> dict:
    body = {"items": [EVAL_ITEM], **over}
    if against is not _UNSET:
        body["against"] = against
    return body


def big_body() -> Iterator[bytes]:
    yield b'{"documents": [{"id": "big", "text": "'
    for _ in range(20):
        yield b"x" * 65536  # 1.25 MiB in all, over the 1 MiB limit, never with a Content-Length
    yield b'"}]}'


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def post(name: str, path: str, body: Any, status: int, fld: str | None, **kw: Any) -> Case:
    return Case(name, "POST", path, status, fld, json=body, **kw)


def get(name: str, path: str, status: int, fld: str | None, **kw: Any) -> Case:
    return Case(name, "GET", path, status, fld, **kw)


# ---- the table --------------------------------------------------------------------------------
D = "/documents"
DOCUMENTS = [
    post("docs: no documents", D, {}, 422, "documents"),
    post("docs: documents is a string", D, {"documents": "x"}, 422, "documents"),
    post("docs: documents empty", D, docs(), 422, "documents"),
    post("docs: 257 documents", D, docs(*[doc(id=f"d{i}") for i in range(257)]), 422, "documents"),
    post("docs: document is a string", D, {"documents": ["x"]}, 422, "documents.0"),
    post("docs: no id", D, docs({"text": "ok"}), 422, "documents.0.id"),
    post("docs: no text", D, docs({"id": "x"}), 422, "documents.0.text"),
    post("docs: empty id", D, docs(doc(id="")), 422, "documents.0.id"),
    post("docs: id a/b", D, docs(doc(id="a/b")), 422, "documents.0.id"),
    post("docs: id ../../etc/passwd", D, docs(doc(id="../../etc/passwd")), 422, "documents.0.id"),
    post("docs: id .", D, docs(doc(id=".")), 422, "documents.0.id"),
    post("docs: id ..", D, docs(doc(id="..")), 422, "documents.0.id"),
    post("docs: id ....", D, docs(doc(id="....")), 422, "documents.0.id"),
    post("docs: id with a space", D, docs(doc(id="a b")), 422, "documents.0.id"),
    post("docs: id with %2F", D, docs(doc(id="a%2Fb")), 422, "documents.0.id"),
    post("docs: id with ?", D, docs(doc(id="a?b")), 422, "documents.0.id"),
    post("docs: id with #", D, docs(doc(id="a#b")), 422, "documents.0.id"),
    post("docs: id with backslash", D, docs(doc(id="a\\b")), 422, "documents.0.id"),
    post("docs: id with NUL", D, docs(doc(id="a\x00b")), 422, "documents.0.id"),
    post("docs: id non-ASCII", D, docs(doc(id="café")), 422, "documents.0.id"),
    post("docs: id 257 chars", D, docs(doc(id="a" * 257)), 422, "documents.0.id"),
    post("docs: id is an int", D, docs(doc(id=5)), 422, "documents.0.id"),
    post("docs: id is null", D, docs(doc(id=None)), 422, "documents.0.id"),
    post("docs: duplicate ids", D, docs(doc(id="x"), doc(id="x")), 422, "documents"),
    post("docs: empty text", D, docs(doc(text="")), 422, "documents.0.text"),
    post("docs: whitespace text", D, docs(doc(text="  \n\t")), 422, "documents.0.text"),
    post("docs: text is an int", D, docs(doc(text=42)), 422, "documents.0.text"),
    post("docs: text is true", D, docs(doc(text=True)), 422, "documents.0.text"),
    post("docs: text is a list", D, docs(doc(text=["a"])), 422, "documents.0.text"),
    post("docs: text is null", D, docs(doc(text=None)), 422, "documents.0.text"),
    post("docs: text over max chars", D, docs(doc(text="x" * (MAX_CHARS + 1))), 422, "documents.0.text"),
    post(
        "docs: texts over the request budget",
        D,
        docs(*[doc(id=f"b{i}", text=LONG) for i in range(3)]),
        422,
        "documents",
    ),
    Case("docs: text lone surrogate", "POST", D, 422, "documents.0.text", raw=raw_doc('"text": "\\ud800"')),
    post("docs: unknown field", D, docs(doc(colour="red")), 422, "documents.0.colour"),
    post("docs: unknown top-level field", D, {**docs(doc()), "upsert": True}, 422, "upsert"),
    post("docs: naive timestamp", D, docs(doc(timestamp="2026-01-01T10:00:00")), 422, "documents.0.timestamp"),
    post("docs: date only", D, docs(doc(timestamp="2026-01-01")), 422, "documents.0.timestamp"),
    post("docs: year 1 +01:00", D, docs(doc(timestamp="0001-01-01T00:00:00+01:00")), 422, "documents.0.timestamp"),
    post("docs: year 9999", D, docs(doc(timestamp="9999-12-31T23:59:59Z")), 422, "documents.0.timestamp"),
    post("docs: before 1970", D, docs(doc(timestamp="1969-12-31T23:59:59Z")), 422, "documents.0.timestamp"),
    post("docs: timestamp words", D, docs(doc(timestamp="last tuesday")), 422, "documents.0.timestamp"),
    post("docs: timestamp Feb 30", D, docs(doc(timestamp="2026-02-30T00:00:00Z")), 422, "documents.0.timestamp"),
    post("docs: timestamp is an int", D, docs(doc(timestamp=1_700_000_000)), 422, "documents.0.timestamp"),
    post("docs: offset 25h", D, docs(doc(timestamp="2026-01-01T00:00:00+25:00")), 422, "documents.0.timestamp"),
    post("docs: metadata is a list", D, docs(doc(metadata=[1])), 422, "documents.0.metadata"),
    post("docs: metadata is a string", D, docs(doc(metadata="x")), 422, "documents.0.metadata"),
    Case("docs: metadata NaN", "POST", D, 422, "documents.0.metadata", raw=raw_doc('"metadata": {"a": NaN}')),
    Case("docs: metadata Infinity", "POST", D, 422, "documents.0.metadata", raw=raw_doc('"metadata": {"a": Infinity}')),
    Case(
        "docs: metadata -Infinity in a list",
        "POST",
        D,
        422,
        "documents.0.metadata",
        raw=raw_doc('"metadata": {"a": [1, -Infinity]}'),
    ),
    Case("docs: metadata 1e400", "POST", D, 422, "documents.0.metadata", raw=raw_doc('"metadata": {"a": 1e400}')),
    Case(
        "docs: metadata lone surrogate value",
        "POST",
        D,
        422,
        "documents.0.metadata",
        raw=raw_doc('"metadata": {"a": "\\udc00"}'),
    ),
    Case(
        "docs: metadata lone surrogate key",
        "POST",
        D,
        422,
        "documents.0.metadata",
        raw=raw_doc('"metadata": {"\\ud800": 1}'),
    ),
    post("docs: metadata 20 deep", D, docs(doc(metadata=nested(20))), 422, "documents.0.metadata"),
    Case(
        "docs: metadata 100,000 deep",
        "POST",
        D,
        422,
        "body",
        raw=raw_doc('"metadata": ' + "[" * 100_000 + "]" * 100_000),
    ),
    post("docs: metadata 20 KB", D, docs(doc(metadata={"a": "x" * 20_000})), 422, "documents.0.metadata"),
    post(
        "docs: metadata 300 keys", D, docs(doc(metadata={f"k{i}": 0 for i in range(300)})), 422, "documents.0.metadata"
    ),
    post("docs: metadata int over 64 bits", D, docs(doc(metadata={"a": 10**30})), 422, "documents.0.metadata"),
    post(
        "docs: one bad document in a batch",
        D,
        docs(doc(id="good-1"), doc(id="bad-2", timestamp="13/13/2026")),
        422,
        "documents.1.timestamp",
    ),
    post(
        "docs: bad metadata after good documents",
        D,
        docs(doc(id="good-1"), doc(id="good-2"), doc(id="bad-3", metadata=nested(30))),
        422,
        "documents.2.metadata",
    ),
    Case("docs: not JSON", "POST", D, 422, "body", raw=b'{"documents": ['),
    Case("docs: JSON array body", "POST", D, 422, "body", raw=b"[]"),
    Case("docs: JSON null body", "POST", D, 422, "body", raw=b"null"),
    Case("docs: empty body", "POST", D, 422, "body", raw=b""),
    Case("docs: trailing garbage", "POST", D, 422, "body", raw=b'{"documents": []} x'),
    Case("docs: invalid UTF-8", "POST", D, 422, "body", raw=b'{"documents": [{"id": "x", "text": "\xff\xfe"}]}'),
    Case(
        "docs: text/plain body",
        "POST",
        D,
        422,
        "body",
        raw=json.dumps(docs(doc())).encode(),
        headers={"Content-Type": "text/plain"},
    ),
    Case("docs: oversized, declared", "POST", D, 413, "body", raw=b"x" * (BODY_LIMIT + 1)),
    Case("docs: oversized, chunked", "POST", D, 413, "body", chunks=big_body),
]

GET_DOCUMENT = [
    get("get: id with a space", "/documents/a%20b", 422, "id"),
    get("get: id 257 chars", "/documents/" + "a" * 257, 422, "id"),
    get("get: id non-ASCII", "/documents/caf%C3%A9", 422, "id"),
    get("get: id with NUL", "/documents/a%00b", 422, "id"),
    get("get: id with %", "/documents/a%25b", 422, "id"),
    get("get: id ...", "/documents/...", 422, "id"),
    get("get: id a%2Fb", "/documents/a%2Fb", 404, None),
    get("get: id ..%2F..%2Fetc%2Fpasswd", "/documents/..%2F..%2Fetc%2Fpasswd", 404, None),
    get("get: unknown id", "/documents/no-such-doc", 404, "id"),
    get("get: odd but valid unknown id", "/documents/a.b_c:d@e~f-g", 404, "id"),
    post("get: POST to a document", "/documents/x", {}, 405, None),
]

S = "/search"
SEARCH = [
    post("search: no query", S, {}, 422, "query"),
    post("search: empty query", S, {"query": ""}, 422, "query"),
    post("search: whitespace query", S, {"query": " "}, 422, "query"),
    post("search: query is an int", S, {"query": 42}, 422, "query"),
    post("search: query is a list", S, {"query": ["art"]}, 422, "query"),
    post("search: query is null", S, {"query": None}, 422, "query"),
    post("search: query over max chars", S, {"query": "x" * (MAX_CHARS + 1)}, 422, "query"),
    Case("search: query lone surrogate", "POST", S, 422, "query", raw=b'{"query": "\\udfff"}'),
    post("search: k true", S, {"query": "art", "k": True}, 422, "k"),
    post("search: k '5'", S, {"query": "art", "k": "5"}, 422, "k"),
    post("search: k 1.5", S, {"query": "art", "k": 1.5}, 422, "k"),
    post("search: k 2.0", S, {"query": "art", "k": 2.0}, 422, "k"),
    post("search: k 0", S, {"query": "art", "k": 0}, 422, "k"),
    post("search: k 101", S, {"query": "art", "k": 101}, 422, "k"),
    post("search: k -1", S, {"query": "art", "k": -1}, 422, "k"),
    post("search: k null", S, {"query": "art", "k": None}, 422, "k"),
    post("search: k huge", S, {"query": "art", "k": 10**40}, 422, "k"),
    Case("search: k NaN", "POST", S, 422, "k", raw=b'{"query": "art", "k": NaN}'),
    post("search: empty topic", S, {"query": "art", "topic": ""}, 422, "topic"),
    post("search: topic 201 chars", S, {"query": "art", "topic": "t" * 201}, 422, "topic"),
    post("search: topic is an int", S, {"query": "art", "topic": 5}, 422, "topic"),
    post("search: naive since", S, {"query": "art", "since": "2026-01-01T00:00:00"}, 422, "since"),
    post("search: since year 1", S, {"query": "art", "since": "0001-01-01T00:00:00+01:00"}, 422, "since"),
    post("search: until year 9999", S, {"query": "art", "until": "9999-12-31T23:59:59+00:00"}, 422, "until"),
    post("search: since Feb 30", S, {"query": "art", "since": "2026-02-30"}, 422, "since"),
    post(
        "search: since after until",
        S,
        {"query": "art", "since": "2026-02-02T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
        422,
        "until",
    ),
    post("search: unknown field", S, {"query": "art", "extra": 1}, 422, "extra"),
    post("search: mode field smuggled in filters", S, {"query": "art", "filter": {"id": "x"}}, 422, "filter"),
    Case("search: broken JSON", "POST", S, 422, "body", raw=b'{"query": '),
    get("search: GET", S, 405, None),
]

T = "/topics"
TOPICS = [
    post("topics: no texts", T, {}, 422, "texts"),
    post("topics: texts empty", T, {"texts": []}, 422, "texts"),
    post("topics: texts is a string", T, {"texts": "a statue"}, 422, "texts"),
    post("topics: empty text", T, {"texts": ["ok", ""]}, 422, "texts.1"),
    post("topics: text is an int", T, {"texts": [42]}, 422, "texts.0"),
    post("topics: 257 texts", T, {"texts": ["ok"] * 257}, 422, "texts"),
    post("topics: texts over the request budget", T, {"texts": [LONG] * 3}, 422, "texts"),
    post("topics: labels empty", T, {"texts": ["ok"], "labels": []}, 422, "labels"),
    post("topics: 101 labels", T, {"texts": ["ok"], "labels": labels(101)}, 422, "labels"),
    post("topics: 10,000 labels", T, {"texts": ["ok"], "labels": labels(10_000)}, 422, "labels"),
    post("topics: label-text bomb", T, {"texts": ["ok"], "labels": BOMB}, 422, "labels"),
    post(
        "topics: duplicate labels (case)",
        T,
        {"texts": ["ok"], "labels": [{"label": "Art"}, {"label": "art "}]},
        422,
        "labels",
    ),
    post("topics: blank label", T, {"texts": ["ok"], "labels": [{"label": "  "}]}, 422, "labels.0.label"),
    post("topics: label 201 chars", T, {"texts": ["ok"], "labels": [{"label": "l" * 201}]}, 422, "labels.0.label"),
    post("topics: label is a string", T, {"texts": ["ok"], "labels": ["art"]}, 422, "labels.0"),
    post(
        "topics: unknown nested label field",
        T,
        {"texts": ["ok"], "labels": [{"label": "art", "colour": "red"}]},
        422,
        "labels.0.colour",
    ),
    post(
        "topics: label description is an int",
        T,
        {"texts": ["ok"], "labels": [{"label": "art", "description": 5}]},
        422,
        "labels.0.description",
    ),
    post(
        "topics: 51 examples",
        T,
        {"texts": ["ok"], "labels": [{"label": "art", "examples": ["e"] * 51}]},
        422,
        "labels.0.examples",
    ),
    post(
        "topics: empty example",
        T,
        {"texts": ["ok"], "labels": [{"label": "art", "examples": [""]}]},
        422,
        "labels.0.examples.0",
    ),
    post("topics: top_k '5'", T, {"texts": ["ok"], "top_k": "5"}, 422, "top_k"),
    post("topics: top_k true", T, {"texts": ["ok"], "top_k": True}, 422, "top_k"),
    post("topics: top_k 0", T, {"texts": ["ok"], "top_k": 0}, 422, "top_k"),
    post("topics: top_k 51", T, {"texts": ["ok"], "top_k": 51}, 422, "top_k"),
    post("topics: threshold 101", T, {"texts": ["ok"], "threshold": 101}, 422, "threshold"),  # bounds: -100..100
    post("topics: threshold '0.5'", T, {"texts": ["ok"], "threshold": "0.5"}, 422, "threshold"),
    post("topics: margin 1.5", T, {"texts": ["ok"], "margin": 1.5}, 422, "margin"),
    post("topics: second -0.1", T, {"texts": ["ok"], "second": -0.1}, 422, "second"),
    post("topics: second '0.5'", T, {"texts": ["ok"], "second": "0.5"}, 422, "second"),
    Case("topics: threshold NaN", "POST", T, 422, "threshold", raw=b'{"texts": ["ok"], "threshold": NaN}'),
    Case("topics: threshold -Infinity", "POST", T, 422, "threshold", raw=b'{"texts": ["ok"], "threshold": -Infinity}'),
    post("topics: backend field", T, {"texts": ["ok"], "backend": "openai"}, 422, "backend"),
    post("topics: taxonomy_path field", T, {"texts": ["ok"], "taxonomy_path": "/etc/passwd"}, 422, "taxonomy_path"),
    post("topics: llm field", T, {"texts": ["ok"], "llm": {"url": "http://127.0.0.1:9/v1"}}, 422, "llm"),
]

TR = "/trends"
TRENDS = [
    get("trends: window 7x", TR, 422, "window", params={"window": "7x"}),
    get("trends: window empty", TR, 422, "window", params={"window": ""}),
    get("trends: window 0d", TR, 422, "window", params={"window": "0d"}),
    get("trends: window -1d", TR, 422, "window", params={"window": "-1d"}),
    get("trends: window 3651d", TR, 422, "window", params={"window": "3651d"}),
    get("trends: window 999999999w", TR, 422, "window", params={"window": "999999999w"}),
    get("trends: window 30 digits", TR, 422, "window", params={"window": "9" * 30 + "d"}),
    get("trends: window 10,000 digits", TR, 422, "window", params={"window": "7" * 10_000 + "d"}),
    get("trends: window 1.5d", TR, 422, "window", params={"window": "1.5d"}),
    get("trends: baseline words", TR, 422, "baseline", params={"baseline": "a month"}),
    get("trends: baseline 5000d", TR, 422, "baseline", params={"baseline": "5000d"}),
    get("trends: bin 0s", TR, 422, "bin", params={"bin": "0s"}),
    get("trends: bin 1s (too many bins)", TR, 422, "bin", params={"bin": "1s"}),
    get("trends: bin junk", TR, 422, "bin", params={"bin": "junk"}),
    get("trends: now naive", TR, 422, "now", params={"now": "2026-01-01T00:00:00"}),
    get("trends: now year 1", TR, 422, "now", params={"now": "0001-01-01T00:00:00+01:00"}),
    get("trends: now year 9999", TR, 422, "now", params={"now": "9999-12-31T00:00:00Z"}),
    get("trends: now junk", TR, 422, "now", params={"now": "yesterday"}),
    get("trends: min_count 0", TR, 422, "min_count", params={"min_count": "0"}),
    get("trends: min_count 1.5", TR, 422, "min_count", params={"min_count": "1.5"}),
    get("trends: min_count words", TR, 422, "min_count", params={"min_count": "two"}),
    get("trends: unmatched_below 2", TR, 422, "unmatched_below", params={"unmatched_below": "2"}),
    get("trends: unmatched_below nan", TR, 422, "unmatched_below", params={"unmatched_below": "nan"}),
    get("trends: unmatched_below inf", TR, 422, "unmatched_below", params={"unmatched_below": "-inf"}),
    get("trends: candidates maybe", TR, 422, "candidates", params={"candidates": "maybe"}),
    get("trends: unknown parameter", TR, 422, "storage_uri", params={"storage_uri": "/tmp"}),
    Case("trends: POST", "POST", TR, 405, None, json={}),
]

E = "/v1/embeddings"
EMBEDDINGS = [
    post("embed: no input", E, {}, 422, "input"),
    post("embed: input empty list", E, {"input": []}, 422, "input"),
    post("embed: input empty string", E, {"input": ""}, 422, "input"),
    post("embed: input with an empty string", E, {"input": ["ok", ""]}, 422, "input"),
    post("embed: input is an int", E, {"input": 42}, 422, "input"),
    # Token ids are accepted (cl100k_base, as OpenAI-style clients send them); bad ones are not.
    post("embed: token id out of range", E, {"input": [[101, 2023, 100256]]}, 422, "input"),
    post("embed: special token id", E, {"input": [100257]}, 422, "input"),
    post("embed: negative token id", E, {"input": [[5, -1]]}, 422, "input"),
    post("embed: empty token array", E, {"input": [[1], []]}, 422, "input"),
    post("embed: token ids mixed with text", E, {"input": [[1, 2], "text"]}, 422, "input"),
    post("embed: input null", E, {"input": None}, 422, "input"),
    post("embed: 257 inputs", E, {"input": ["ok"] * 257}, 422, "input"),
    post("embed: input over the request budget", E, {"input": [LONG] * 3}, 422, "input"),
    post("embed: other model", E, {"input": "x", "model": "text-embedding-3-large"}, 422, "model"),
    post("embed: model is a path", E, {"input": "x", "model": "/etc/passwd"}, 422, "model"),
    post("embed: model 201 chars", E, {"input": "x", "model": "m" * 201}, 422, "model"),
    post("embed: encoding_format int8", E, {"input": "x", "encoding_format": "int8"}, 422, "encoding_format"),
    post("embed: dimensions 0", E, {"input": "x", "dimensions": 0}, 422, "dimensions"),
    post("embed: dimensions '384'", E, {"input": "x", "dimensions": "384"}, 422, "dimensions"),
    post("embed: dimensions true", E, {"input": "x", "dimensions": True}, 422, "dimensions"),
    post("embed: dimensions 100", E, {"input": "x", "dimensions": 100}, 422, "dimensions"),
    post("embed: user 300 chars", E, {"input": "x", "user": "u" * 300}, 422, "user"),
    post("embed: unknown field", E, {"input": "x", "truncate": True}, 422, "truncate"),
    Case("embed: input lone surrogate", "POST", E, 422, "input", raw=b'{"input": ["ok", "\\ud83d"]}'),
    get("embed: GET", E, 405, None),
]

EV = "/evaluate"
OPENAI_HOLE = {"backend": "openai", "llm": {"url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "PATH"}}
EVALUATE = [
    post("eval: no items", EV, {}, 422, "items"),
    post("eval: items empty", EV, {"items": []}, 422, "items"),
    post("eval: 257 items", EV, {"items": [EVAL_ITEM] * 257}, 422, "items"),
    post("eval: item without topics", EV, {"items": [{"text": "ok"}]}, 422, "items.0"),
    post("eval: empty human_topics", EV, {"items": [{"text": "ok", "human_topics": []}]}, 422, "items.0"),
    post(
        "eval: whitespace human topic",
        EV,
        {"items": [{"text": "ok", "human_topics": ["  "]}]},
        422,
        "items.0.human_topics.0",
    ),
    post(
        "eval: human_topics is a string",
        EV,
        {"items": [{"text": "ok", "human_topics": "sculpture"}]},
        422,
        "items.0.human_topics",
    ),
    post("eval: empty label", EV, {"items": [{"text": "ok", "label": ""}]}, 422, "items.0.label"),
    post("eval: blank text", EV, {"items": [{"text": " ", "label": "art"}]}, 422, "items.0.text"),
    post("eval: unknown item field", EV, {"items": [{**EVAL_ITEM, "weight": 2}]}, 422, "items.0.weight"),
    post(
        "eval: taxonomy_path /etc/passwd", EV, evaluate({"taxonomy_path": "/etc/passwd"}), 422, "against.taxonomy_path"
    ),
    post("eval: taxonomy_path /dev/zero", EV, evaluate({"taxonomy_path": "/dev/zero"}), 422, "against.taxonomy_path"),
    post("eval: against backend openai + llm", EV, evaluate(OPENAI_HOLE), 422, "against.backend"),
    post(
        "eval: against llm.url",
        EV,
        evaluate({"llm": {"url": "http://127.0.0.1:9/v1"}}),
        422,
        "against.llm",
    ),
    post("eval: against llm.api_key_env", EV, evaluate({"llm": {"api_key_env": "PATH"}}), 422, "against.llm"),
    post("eval: against api_key_env", EV, evaluate({"api_key_env": "PATH"}), 422, "against.api_key_env"),
    post(
        "eval: against llm.model (transformers)",
        EV,
        evaluate({"backend": "transformers", "llm": {"model": "/tmp/any-model"}}),
        422,
        "against.backend",
    ),
    post("eval: against llm.model alone", EV, evaluate({"llm": {"model": "gpt2"}}), 422, "against.llm"),
    post("eval: against inline taxonomy", EV, evaluate({"taxonomy": labels(2)}), 422, "against.taxonomy"),
    post("eval: against promote", EV, evaluate({"promote": labels(1)}), 422, "against.promote"),
    post("eval: against prompt path", EV, evaluate({"prompt": "../../etc/passwd"}), 422, "against.prompt"),
    post("eval: against prompt /dev/zero", EV, evaluate({"prompt": "/dev/zero"}), 422, "against.prompt"),
    post("eval: against unknown prompt", EV, evaluate({"prompt": "topics-v99"}), 422, "against.prompt"),
    post("eval: against a non-tagging prompt", EV, evaluate({"prompt": "cluster-label-v1"}), 422, "against.prompt"),
    post("eval: against 10,000 labels", EV, evaluate({"labels": labels(10_000)}), 422, "against.labels"),
    post("eval: against label-text bomb", EV, evaluate({"labels": BOMB}), 422, "against.labels"),
    post(
        "eval: against duplicate labels",
        EV,
        evaluate({"labels": [{"label": "Art"}, {"label": "ART"}]}),
        422,
        "against.labels",
    ),
    post(
        "eval: against unknown nested label field",
        EV,
        evaluate({"labels": [{"label": "art", "vector": [0.1]}]}),
        422,
        "against.labels.0.vector",
    ),
    post("eval: against top_k '5'", EV, evaluate({"top_k": "5"}), 422, "against.top_k"),
    post("eval: against top_k 1.5", EV, evaluate({"top_k": 1.5}), 422, "against.top_k"),
    post("eval: against calibration magic", EV, evaluate({"calibration": "magic"}), 422, "against.calibration"),
    post("eval: against is a string", EV, evaluate("openai"), 422, "against"),
    Case(
        "eval: against threshold NaN",
        "POST",
        EV,
        422,
        "against.threshold",
        raw=json.dumps(evaluate({"threshold": 0.5})).replace("0.5", "NaN").encode(),
    ),
    post(
        "eval: texts over the request budget",
        EV,
        {"items": [{"text": LONG, "label": "art"}] * 3},
        422,
        "items",
    ),
]

AUTH = [
    post("auth: no key", S, {"query": "art"}, 401, "authorization", key=None),
    post("auth: wrong key", S, {"query": "art"}, 401, "authorization", key="wrong-key"),
    post("auth: key with a suffix", S, {"query": "art"}, 401, "authorization", key=API_KEY + "x"),
    post("auth: key prefix only", S, {"query": "art"}, 401, "authorization", key=API_KEY[:-1]),
    post("auth: empty bearer", S, {"query": "art"}, 401, "authorization", key=""),
    post(
        "auth: basic scheme",
        S,
        {"query": "art"},
        401,
        "authorization",
        key=None,
        headers={"Authorization": f"Basic {API_KEY}"},
    ),
    post(
        "auth: key without a scheme",
        S,
        {"query": "art"},
        401,
        "authorization",
        key=None,
        headers={"Authorization": API_KEY},
    ),
    post("auth: ingest without a key", D, docs(doc()), 401, "authorization", key=None),
    get("auth: get document without a key", "/documents/x", 401, "authorization", key=None),
    get("auth: trends without a key", TR, 401, "authorization", key=None),
    post("auth: evaluate with a wrong key", EV, evaluate(), 401, "authorization", key="nope"),
    post("auth: embeddings without a key", E, {"input": "x"}, 401, "authorization", key=None),
    # /ui, /docs and /openapi.json are public (the page and the schema hold no data); every data route is not.
    get("auth: a nested document path without a key", "/documents/x/y", 401, "authorization", key=None),
    get("auth: unknown route without a key", "/admin", 401, "authorization", key=None),
]


DD, LS = "/documents/delete", "/documents"
MANAGE = [
    Case("delete: unknown id", "DELETE", "/documents/no-such-doc", 404, "id"),
    Case("delete: id with a space", "DELETE", "/documents/a%20b", 422, "id"),
    Case("delete: id ..", "DELETE", "/documents/...", 422, "id"),
    Case("delete: id a%2Fb", "DELETE", "/documents/a%2Fb", 404, None),
    post("delete-where: empty filter", DD, {}, 422, "body"),
    post("delete-where: ids and a filter", DD, {"ids": ["a"], "topic": "sculpture"}, 422, "body"),
    post("delete-where: empty ids", DD, {"ids": []}, 422, "ids"),
    post("delete-where: bad id", DD, {"ids": ["a/b"]}, 422, "ids.0"),
    post("delete-where: unknown field", DD, {"topic": "sculpture", "all": True}, 422, "all"),
    post("delete-where: naive since", DD, {"since": "2026-01-01T00:00:00"}, 422, "since"),
    post(
        "delete-where: since after until",
        DD,
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        422,
        "until",
    ),
    post("delete-where: topic is a list", DD, {"topic": ["a"]}, 422, "topic"),
    get("list: limit 0", LS, 422, "limit", params={"limit": "0"}),
    get("list: limit 10001", LS, 422, "limit", params={"limit": "10001"}),
    get("list: limit abc", LS, 422, "limit", params={"limit": "abc"}),
    get("list: unknown parameter", LS, 422, "order", params={"order": "desc"}),
    get("list: naive since", LS, 422, "since", params={"since": "2026-01-01T00:00:00"}),
    get(
        "list: since after until",
        LS,
        422,
        "until",
        params={"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
    ),
    get("list: cursor not base64", LS, 422, "cursor", params={"cursor": "!!!"}),
    get("list: topic empty", LS, 422, "topic", params={"topic": ""}),
    post("search: unknown mode", S, {"query": "art", "mode": "fuzzy"}, 422, "mode"),
    post("search: mode null", S, {"query": "art", "mode": None}, 422, "mode"),
]

FB = "/documents/bad-doc/feedback"  # no such document: every body check comes before the 404
VERDICT = {"topic": "painting", "verdict": "confirmed"}
QT = "/queries/top"
FEEDBACK = [
    post("feedback: empty body", FB, {}, 422, "topic"),
    post("feedback: no verdict", FB, {"topic": "painting"}, 422, "verdict"),
    post("feedback: verdict maybe", FB, {**VERDICT, "verdict": "maybe"}, 422, "verdict"),
    post("feedback: verdict is true", FB, {**VERDICT, "verdict": True}, 422, "verdict"),
    post("feedback: topic not configured", FB, {**VERDICT, "topic": "astrology"}, 422, "topic"),
    post("feedback: topic is an int", FB, {**VERDICT, "topic": 3}, 422, "topic"),
    post("feedback: topic blank", FB, {**VERDICT, "topic": "  "}, 422, "topic"),
    post("feedback: topic 201 chars", FB, {**VERDICT, "topic": "t" * 201}, 422, "topic"),
    post("feedback: note 2001 chars", FB, {**VERDICT, "note": "n" * 2001}, 422, "note"),
    post("feedback: unknown field", FB, {**VERDICT, "score": 1.0}, 422, "score"),
    post("feedback: a list body", FB, [VERDICT], 422, "body"),
    post("feedback: items empty", FB, {"items": []}, 422, "items"),
    post("feedback: 51 items", FB, {"items": [VERDICT] * 51}, 422, "items"),
    post("feedback: items and a topic", FB, {**VERDICT, "items": [VERDICT]}, 422, "items"),
    post(
        "feedback: the same topic twice",
        FB,
        {"items": [VERDICT, {**VERDICT, "topic": "PAINTING", "verdict": "rejected"}]},
        422,
        "items",
    ),
    post(
        "feedback: second item's topic not configured",
        FB,
        {"items": [VERDICT, {"topic": "astrology", "verdict": "added"}]},
        422,
        "items.1.topic",
    ),
    post("feedback: item unknown field", FB, {"items": [{**VERDICT, "weight": 2}]}, 422, "items.0.weight"),
    Case(
        "feedback: note lone surrogate",
        "POST",
        FB,
        422,
        "note",
        raw=b'{"topic": "painting", "verdict": "added", "note": "\\ud800"}',
    ),
    post("feedback: unknown document", FB, VERDICT, 404, "id"),
    get("feedback: list of an unknown document", FB, 404, "id"),
    post("feedback: id with a space", "/documents/a%20b/feedback", VERDICT, 422, "id"),
    post("feedback: id ...", "/documents/.../feedback", VERDICT, 422, "id"),
    post("feedback: without a key", FB, VERDICT, 401, "authorization", key=None),
    get("feedback: list with a wrong key", FB, 401, "authorization", key="nope"),
    Case("feedback: PUT", "PUT", FB, 405, None, json=VERDICT),
    get("top queries: limit 0", QT, 422, "limit", params={"limit": "0"}),
    get("top queries: limit 1001", QT, 422, "limit", params={"limit": "1001"}),
    get("top queries: limit abc", QT, 422, "limit", params={"limit": "abc"}),
    get("top queries: naive since", QT, 422, "since", params={"since": "2026-01-01T00:00:00"}),
    get("top queries: unknown parameter", QT, 422, "query", params={"query": "art"}),
    get("top queries: without a key", QT, 401, "authorization", key=None),
    post("eval: source magic", EV, {"source": "magic"}, 422, "source"),
    post("eval: source feedback and items", EV, {"source": "feedback", "items": [EVAL_ITEM]}, 422, "items"),
    post("eval: source is a list", EV, {"source": ["feedback"]}, 422, "source"),
]

ROUTES = [
    get("route: unknown", "/no-such-route", 404, None),
    get("route: unknown under v1", "/v1/models", 404, None),
    Case("route: PUT documents", "PUT", D, 405, None, json=docs(doc())),
    Case("route: PATCH topics", "PATCH", T, 405, None, json={}),
    Case("route: DELETE search", "DELETE", S, 405, None),
    Case("route: POST healthz", "POST", "/healthz", 405, None, json={}),
    Case("route: PUT evaluate", "PUT", EV, 405, None, json={}),
]

CASES: list[Case] = [
    *DOCUMENTS,
    *GET_DOCUMENT,
    *SEARCH,
    *TOPICS,
    *TRENDS,
    *EMBEDDINGS,
    *EVALUATE,
    *MANAGE,
    *FEEDBACK,
    *AUTH,
    *ROUTES,
]
assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"
