"""`python -m topicserve store migrate --from OLD --to NEW`: copy a format-1 store into a LanceDB table."""

from __future__ import annotations

import argparse

import numpy as np

from topicserve.store import connect, legacy

BATCH = 2000


def migrate(old: str, new: str) -> int:
    """Copy every document of the old store at ``old`` into a new table at ``new``; the count."""
    from topicserve.store.documents import StoredDocument
    from topicserve.store.table import DocumentStore

    source = connect.local_path(old)
    if not legacy.is_legacy(source):
        raise ValueError("--from is not an old-format store (no manifest.json there)")
    space = legacy.read_space(source)
    target = DocumentStore(new, background=False)
    if space is None:
        return 0
    target.bind(space)
    if len(target):
        raise ValueError("--to already holds documents; migrate into an empty location")
    count, docs, vectors = 0, [], []
    for rec, vector in legacy.read_records(source):
        docs.append(StoredDocument.model_validate(rec))
        vectors.append(vector)
        if len(docs) == BATCH:
            target.upsert(docs, np.stack(vectors), space)
            count, docs, vectors = count + len(docs), [], []
    if docs:
        target.upsert(docs, np.stack(vectors), space)
        count += len(docs)
    target.maintenance.run(force=True)
    return count


def _run(args: argparse.Namespace) -> int:
    count = migrate(args.source, args.target)
    print(f"migrated {count} documents")
    return 0


def register(sub) -> None:
    store = sub.add_parser("store", help="store maintenance (LanceDB table)")
    commands = store.add_subparsers(dest="store_command", required=True)
    p = commands.add_parser("migrate", help="copy an old-format (JSONL segments) store into a new LanceDB table")
    p.add_argument("--from", dest="source", required=True, help="old store directory (has manifest.json)")
    p.add_argument("--to", dest="target", required=True, help="new storage location (directory or s3://...)")
    p.set_defaults(func=_run)
