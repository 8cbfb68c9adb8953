"""Client commands against a running service: ``python -m topicserve ingest|search|trends|topics``.

``evaluate FILE --url URL`` (registered by topicserve.evaluation.cli) runs here too. Exit codes:
0 done, 2 the request or the input file is wrong (the service's 4xx: code, message and field are
printed), 1 anything else (service unreachable, 5xx after the retries). The URL comes from
``--url`` or ``TOPICSERVE_URL``; the API key only from ``TOPICSERVE_API_KEY`` (never a flag: a key
on the command line ends up in shell history and process lists).
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from topicserve.client import render
from topicserve.client.files import JSONL_SUFFIXES, InputFileError, batched, count_records, read_documents
from topicserve.client.http import ApiError, Client, ClientError
from topicserve.client.settings import ClientSettings
from topicserve.errors import TopicServeError

OK, FAILED, BAD_INPUT = 0, 1, 2
err = Console(stderr=True, highlight=False)


def make_client(args: argparse.Namespace) -> Client:
    settings = ClientSettings()
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return Client(args.url or settings.url, key, retries=args.retries, timeout=args.timeout)


def print_json(data: dict) -> None:
    print(json.dumps(data, indent=1, ensure_ascii=False))


def guarded(command):
    """Turn the client's errors into a message on stderr and an exit code."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (InputFileError, TopicServeError) as exc:  # a bad input file, found before any request
            print(f"error: {exc}", file=sys.stderr)
            return BAD_INPUT
        except ApiError as exc:
            print(f"error: {exc}", file=sys.stderr)
            if exc.note:
                print(exc.note, file=sys.stderr)
            if exc.status == 401:
                print("hint: set TOPICSERVE_API_KEY to the service's API key", file=sys.stderr)
            return BAD_INPUT if exc.is_client_error else FAILED
        except ClientError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return FAILED

    return run


def progress(*, disable: bool = False) -> Progress:
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    return Progress(*columns, console=err, transient=False, disable=disable)


# ---- ingest ----------------------------------------------------------------------------------
def _where(exc: ApiError, batch: list[tuple[str, dict]]) -> str | None:
    match = re.match(r"documents\.(\d+)", exc.field or "")
    if match and int(match.group(1)) < len(batch):
        return batch[int(match.group(1))][0]
    return None


@guarded
def ingest(args: argparse.Namespace) -> int:
    path = Path(args.file)
    total, done, batches = count_records(path), 0, 0
    with make_client(args) as client, progress() as bar:
        task = bar.add_task(f"ingest {path.name}", total=total)
        for batch in batched(read_documents(path), args.batch_size):
            try:
                client.ingest([doc for _, doc in batch])
            except ApiError as exc:
                where = _where(exc, batch) or f"{batch[0][0]} to {batch[-1][0]}"
                exc.message = f"{path} {where}: {exc.message}"
                after = "the batch stored nothing" if exc.is_client_error else "re-running the file is safe (by id)"
                exc.note = f"{done} documents were ingested before this batch; {after}"
                raise
            done, batches = done + len(batch), batches + 1
            bar.advance(task, len(batch))
    summary = {"ingested": done, "batches": batches, "file": str(path)}
    plural = "batch" if batches == 1 else "batches"
    print_json(summary) if args.json else print(f"ingested {done} documents from {path} in {batches} {plural}")
    return OK


# ---- search, trends, topics, evaluate ----------------------------------------------------------
@guarded
def search(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        resp = client.search(" ".join(args.query), args.k, topic=args.topic, since=args.since, until=args.until)
    print_json(resp) if args.json else Console().print(render.search_table(resp))
    return OK


@guarded
def trends(args: argparse.Namespace) -> int:
    params = {"window": args.window, "baseline": args.baseline, "bin": args.bin, "now": args.now}
    params |= {"min_count": args.min_count, "candidates": "false" if args.no_candidates else "true"}
    with make_client(args) as client:
        resp = client.trends(**params)
    if args.json:
        print_json(resp)
    else:
        Console().print(render.trends_table(resp, show_all=args.all, spark=not args.no_sparkline))
    return OK


def _texts(args: argparse.Namespace) -> list[str]:
    """Texts from the arguments, then from --file: JSONL with a 'text' per line, or one text per line."""
    texts = list(args.texts)
    path = Path(args.file) if args.file else None
    if path and path.suffix.lower() in JSONL_SUFFIXES:
        for where, record in read_documents(path):
            if not isinstance(record.get("text"), str):
                raise InputFileError(f"{path} {where}: no 'text'")
            texts.append(record["text"])
    elif path:
        if not path.is_file():
            raise InputFileError(f"{path}: no such file")
        texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not texts:
        raise InputFileError("give texts as arguments or --file")
    return texts


@guarded
def topics(args: argparse.Namespace) -> int:
    texts = _texts(args)
    results: list[dict] = []
    resp: dict = {}
    with make_client(args) as client, progress(disable=len(texts) <= args.batch_size) as bar:
        task = bar.add_task("topics", total=len(texts))
        for batch in batched(texts, args.batch_size):
            resp = client.topics(batch, top_k=args.top_k, threshold=args.threshold)
            results += resp["results"]
            bar.advance(task, len(batch))
    resp["results"] = results
    print_json(resp) if args.json else Console().print(render.topics_table(texts, resp))
    return OK


@guarded
def evaluate_remote(args: argparse.Namespace) -> int:
    """`evaluate FILE --url URL`: the same vibe-check table, computed by the service's /evaluate."""
    from topicserve.evaluation.metrics import load_items

    local_only = [flag for flag in ("labels", "config", "against") if getattr(args, flag, None)]
    if local_only:
        raise InputFileError(f"--{local_only[0]} works only in-process (without --url)")
    items = [i.model_dump(exclude_none=True) for i in load_items(args.file)]
    with make_client(args) as client, err.status(f"evaluating {len(items)} items on {client.url}"):
        resp = client.evaluate(items)
    print_json(resp) if args.json else print(resp["table"])
    if resp.get("degraded"):
        print(f"warning: degraded: {resp.get('fallback_reason')}", file=sys.stderr)
    return OK


# ---- registration ----------------------------------------------------------------------------
def add_client_options(p: argparse.ArgumentParser, *, url_help: str | None = None) -> None:
    p.add_argument("--url", help=url_help or "service URL (default: $TOPICSERVE_URL or http://127.0.0.1:8000)")
    p.add_argument("--json", action="store_true", help="print the service's JSON instead of a table")
    p.add_argument("--retries", type=int, default=5, help="retries on 503/429, honouring Retry-After (default 5)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one response (default 300)")


def register(sub) -> None:
    p = sub.add_parser("ingest", help="load documents from a JSONL or Parquet file into a running service")
    p.add_argument("file", help="JSONL (one document per line: id, text, timestamp, metadata) or Parquet")
    p.add_argument("--batch-size", type=int, default=64, help="documents per request (default 64)")
    add_client_options(p)
    p.set_defaults(func=ingest)

    p = sub.add_parser("search", help="semantic search in a running service")
    p.add_argument("query", nargs="+")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--topic")
    p.add_argument("--since", help="ISO 8601 with a time zone, e.g. 2026-11-01T00:00:00Z")
    p.add_argument("--until", help="ISO 8601 with a time zone")
    add_client_options(p)
    p.set_defaults(func=search)

    p = sub.add_parser("trends", help="trending topics of a running service, as a table with sparklines")
    p.add_argument("--window", default="7d")
    p.add_argument("--baseline", default="30d")
    p.add_argument("--bin", help="bin width of the series (default: the service's)")
    p.add_argument("--now", help="evaluate as of this time (ISO 8601)")
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--no-candidates", action="store_true", help="skip candidate-topic discovery")
    p.add_argument("--all", action="store_true", help="every topic, not only the trending ones")
    p.add_argument("--no-sparkline", action="store_true")
    add_client_options(p)
    p.set_defaults(func=trends)

    p = sub.add_parser("topics", help="topics of texts, from a running service")
    p.add_argument("texts", nargs="*")
    p.add_argument("--file", help="texts, one per line, or JSONL with a 'text' per line")
    p.add_argument("--top-k", type=int)
    p.add_argument("--threshold", type=float)
    p.add_argument("--batch-size", type=int, default=64)
    add_client_options(p)
    p.set_defaults(func=topics)
