"""`python -m topicserve COMMAND`: each command lives in its own module with a `register()`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that add subcommands: each defines register(subparsers) and sets `func` on its parser,
# a callable taking the parsed args and returning an exit code.
COMMAND_MODULES = [
    "topicserve.localrun",
    "topicserve.pin",
    "topicserve.preflight",
    "topicserve.k8s.cli",
    "topicserve.evaluation.cli",
    "topicserve.client.cli",  # ingest, search, trends, topics (evaluate --url is in evaluation.cli)
    "topicserve.store.cli",
    "topicserve.backfill",  # backfill on Ray Data
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m topicserve", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # the CLI boundary: one readable line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
