"""`python -m topicserve backfill FILE_OR_DIR --address auto`: bulk loading on Ray Data.

Ray Data reads the JSONL / Parquet files, checks each record as POST /documents would
(``schemas.DocumentIn``), drops ids the store already holds (so a crashed or repeated run resumes
where it stopped), and embeds in ``map_batches`` on an actor pool of topicserve's own ``Embedder``
(the running service's model and backend, GPU when asked). The driver then tags each batch through
the service's Topics deployment and commits it through its State deployment (the single writer,
one atomic upsert per batch), over Serve handles: never around the writer. Progress: Ray Data's
bars, and one bar of committed documents.

``--from-store TABLE`` reads the texts of another table of the store instead (Ray Data's
``read_lance``) and re-embeds them with the running service's model: the model upgrade
(docs/store.md, "Upgrading the embedding model").

Every Ray Data stage but the embedding actors asks for LIGHT_CPUS only: the service holds most of
a small cluster's CPUs, and a stage that asks for a whole CPU there never starts (the run stalls).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

JSONL = (".jsonl", ".ndjson", ".json")
LIGHT_CPUS = 0.01  # Ray CPUs asked by the read / check / skip stages
PARQUET_ROWS = 4096  # rows per record batch read from a Parquet file
SOURCE_COLUMNS = ["id", "text", "timestamp", "metadata"]


def check_fits(num_cpus: float, num_gpus: float) -> None:
    """Refuse at once when no node can place an embedding actor (Ray Data would wait forever)."""
    import ray

    free = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    total_cpu = sum(r.get("CPU", 0) for r in free)
    if not any(r.get("CPU", 0) >= num_cpus and r.get("GPU", 0) >= num_gpus for r in free):
        raise SystemExit(
            f"no node has {num_cpus:g} CPU / {num_gpus:g} GPU for an embedding actor; lower --num-cpus / --num-gpus"
        )
    available = ray.available_resources().get("CPU", 0)
    if available < num_cpus:
        print(
            f"note: {available:.2f} of {total_cpu:g} CPUs are free (the service holds the rest): an actor of "
            f"{num_cpus:g} CPU waits for them; a smaller --num-cpus starts it now",
            flush=True,
        )


def _files(path: Path) -> tuple[list[str], list[str]]:
    """(JSONL files, Parquet files) at ``path``: the file itself, or the files of the directory."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    jsonl = [str(p) for p in files if p.suffix.lower() in JSONL]
    parquet = [str(p) for p in files if p.suffix.lower() == ".parquet"]
    if not jsonl and not parquet:
        raise ValueError(f"no .jsonl or .parquet files at {path}")
    return jsonl, parquet


def _document(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """One record checked as the HTTP API checks it; columns: id, text, timestamp, metadata (JSON)."""
    from topicserve.schemas import DocumentIn

    try:
        doc = DocumentIn.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise ValueError(f"{where}: {field}: {first['msg']}") from None
    stamp = doc.timestamp.isoformat() if doc.timestamp else ""
    return {"id": doc.id, "text": doc.text, "timestamp": stamp, "metadata": json.dumps(doc.metadata)}


def parse_jsonl(batch: dict[str, np.ndarray]) -> dict[str, list]:
    """Lines of JSONL (Ray Data's ``read_text``, column ``text``) -> document columns."""
    rows = []
    for n, line in enumerate(batch["text"]):
        if not str(line).strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"a JSONL line is not JSON ({exc.msg}): {str(line)[:80]!r}") from None
        rows.append(_document(raw, f"JSONL record {raw.get('id', n) if isinstance(raw, dict) else n!r}"))
    return _columns(rows)


def read_parquet_files(batch: dict[str, np.ndarray]) -> Iterator[dict[str, list]]:
    """Parquet files (column ``path``) -> document columns, a record batch at a time.

    Not ``ray.data.read_parquet``: in Ray 2.60 it lists the files in a ``ListFiles`` task (and the
    V1 reader samples them in tasks) that ask for a whole CPU, whatever ``num_cpus`` says, so on a
    cluster whose CPUs the service holds the read never starts. The files are listed here already.
    """
    import pyarrow.parquet as pq

    for path in batch["path"]:
        for records in pq.ParquetFile(str(path)).iter_batches(batch_size=PARQUET_ROWS):
            yield parse_parquet(records)


def parse_parquet(batch) -> dict[str, list]:
    """Parquet rows (a pyarrow batch: plain Python values) -> document columns, extra columns going
    into metadata as `ingest` does."""
    from topicserve.client.files import parquet_document

    docs = []
    for row in batch.to_pylist():
        where = f"Parquet row {row.get('id')!r}"
        docs.append(_document(parquet_document(row, where), where))
    return _columns(docs)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in ("id", "text", "timestamp", "metadata")}


class SkipStored:
    """Drops documents whose id the store already holds (resume), asking the State deployment."""

    def __init__(self, app: str) -> None:
        from ray import serve

        self.state = serve.get_deployment_handle("State", app_name=app)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        stored = set(self.state.existing.remote(list(batch["id"])).result())
        keep = np.array([i not in stored for i in batch["id"]], dtype=bool)
        return {k: v[keep] for k, v in batch.items()}


class EmbedBatch:
    """Ray Data actor: the service's model on topicserve's Embedder (same space, checked at start)."""

    def __init__(self, space: dict, device: str, threads: int) -> None:
        from topicserve.embedding import Embedder
        from topicserve.space import EmbeddingSpace

        want = EmbeddingSpace.model_validate(space)
        self.model = Embedder(want.model, device, backend=want.backend, threads=threads)
        want.check_compatible(self.model.space, what="backfill embedder")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch["vector"] = self.model.embed([str(t) for t in batch["text"]])
        return batch


def _unique_last(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One row per id within a commit (the last one, as a later upsert would win anyway)."""
    last = {doc_id: n for n, doc_id in enumerate(batch["id"])}
    rows = np.array(sorted(last.values()), dtype=np.int64)
    return {k: v[rows] for k, v in batch.items()}


def commit(batch: dict[str, np.ndarray], topics, state, space, seconds: dict[str, float] | None = None) -> int:
    """Tag one batch through the Topics deployment, then one atomic upsert through the State one
    (the seconds of each are added to ``seconds``)."""
    from topicserve.store import StoredDocument

    seconds = {} if seconds is None else seconds
    batch = _unique_last(batch)
    texts = [str(t) for t in batch["text"]]
    vectors = np.asarray(np.stack(list(batch["vector"])), dtype=np.float32)
    start = time.perf_counter()
    tagged = topics.tag.remote(texts, vectors).result()  # topics, nearest labels, taxonomy version
    seconds["topics_s"] = seconds.get("topics_s", 0.0) + time.perf_counter() - start
    now = datetime.now(UTC)
    docs = [
        StoredDocument(
            id=str(doc_id),
            text=text,
            timestamp=datetime.fromisoformat(str(ts)) if ts else now,
            metadata=json.loads(str(meta)),
            topics=tags,
            taxonomy_version=tagged.version,
            nearest=near,
        )
        for doc_id, text, ts, meta, tags, near in zip(
            batch["id"], texts, batch["timestamp"], batch["metadata"], tagged.topics, tagged.nearest, strict=True
        )
    ]
    start = time.perf_counter()
    state.upsert.remote(docs, vectors, space).result()
    seconds["commit_s"] = seconds.get("commit_s", 0.0) + time.perf_counter() - start
    return len(docs)


def read_files(path: Path):
    """JSONL and Parquet files at ``path`` as one dataset of document columns, checked."""
    import ray

    jsonl, parquet = _files(path)
    light: dict[str, Any] = {"num_cpus": LIGHT_CPUS}  # reading/checking are cheap: never wait behind the service
    parts = []
    if jsonl:
        ds = ray.data.read_text(jsonl, num_cpus=LIGHT_CPUS)
        parts.append(ds.map_batches(parse_jsonl, batch_format="numpy", **light))
    if parquet:
        files = ray.data.from_items([{"path": p} for p in parquet])
        parts.append(files.map_batches(read_parquet_files, batch_size=1, batch_format="numpy", **light))
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def stored_texts(table: str, storage_uri: str):
    """The documents of another table of the store (Ray Data's ``read_lance``), vectors left behind."""
    import ray

    from topicserve.settings import get_settings
    from topicserve.store import connect

    uri = connect.table_uri(storage_uri, table)
    options = connect.storage_options(storage_uri, get_settings())
    ds = ray.data.read_lance(uri, columns=SOURCE_COLUMNS, storage_options=options, num_cpus=LIGHT_CPUS)
    return ds.map_batches(stored_columns, batch_format="pyarrow", num_cpus=LIGHT_CPUS)


def stored_columns(batch) -> dict[str, list]:
    """Rows of a store table -> document columns (timestamps as ISO text, metadata JSON as stored)."""
    return {
        "id": batch.column("id").to_pylist(),
        "text": batch.column("text").to_pylist(),
        "timestamp": [t.isoformat() for t in batch.column("timestamp").to_pylist()],
        "metadata": [m or "{}" for m in batch.column("metadata").to_pylist()],
    }


def pipeline(ds, app: str, space, args: argparse.Namespace):
    """The Ray Data dataset: documents -> skip stored -> embed (actor pool)."""
    import ray

    if args.resume:
        ds = ds.map_batches(SkipStored, fn_constructor_args=(app,), concurrency=1, batch_size=1024, num_cpus=LIGHT_CPUS)
    gpus = args.num_gpus if args.num_gpus is not None else (1 if ray.cluster_resources().get("GPU", 0) else 0)
    check_fits(args.num_cpus, gpus)
    return ds.map_batches(
        EmbedBatch,
        fn_constructor_args=(space.model_dump(), "cuda" if gpus else "cpu", max(1, int(args.num_cpus))),
        concurrency=args.concurrency,
        batch_size=args.batch_size,
        num_cpus=args.num_cpus,
        num_gpus=gpus,
        batch_format="numpy",
    )


def source(args: argparse.Namespace):
    """The documents to load, and how the summary line names them."""
    if args.from_store:
        return stored_texts(args.from_store, args.storage_uri), f"table {args.from_store!r}"
    path = Path(args.path).expanduser().resolve()
    return read_files(path), str(path)


def check_source_table(args: argparse.Namespace, target) -> None:
    """--from-store: the table must exist; say what is re-embedded into which space (no storage URI)."""
    from topicserve.store import DocumentStore

    store = DocumentStore(args.storage_uri, table=args.from_store, background=False)
    if store.table is None or store.space is None:
        where = "TOPICSERVE_STORAGE_URI / --storage-uri"
        raise SystemExit(f"backfill: the store has no table {args.from_store!r} ({where})")
    print(
        f"backfill: re-embedding the {len(store)} documents of table {args.from_store!r} "
        f"({store.space.describe()}) with the service's {target.describe()}",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    import ray
    from ray import serve
    from tqdm import tqdm

    from topicserve.settings import get_settings
    from topicserve.space import EmbeddingSpace

    started = time.perf_counter()
    if bool(args.path) == bool(args.from_store):
        raise SystemExit("backfill: give a FILE_OR_DIR or --from-store TABLE (one of them)")
    args.storage_uri = args.storage_uri or get_settings().storage_uri
    env = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "HF_HOME", "TOPICSERVE_ONNX_CACHE_DIR") if k in os.environ}
    # py_modules: the workers import this checkout's topicserve (the Ray Data stages run there).
    ray.init(address=args.address, runtime_env={"py_modules": [str(Path(__file__).parent)], "env_vars": env})
    handles = {name: serve.get_deployment_handle(name, app_name=args.app) for name in ("Embedder", "Topics", "State")}
    space = EmbeddingSpace.from_info(handles["Embedder"].info.remote().result(timeout_s=600))
    if args.from_store:
        check_source_table(args, space)
    documents, origin = source(args)
    ds = pipeline(documents, args.app, space, args)
    seconds = {"startup_s": time.perf_counter() - started, "wait_s": 0.0}
    done = 0
    with tqdm(desc="committed", unit="doc", disable=args.quiet) as bar:
        batches = iter(ds.iter_batches(batch_size=args.commit_size, batch_format="numpy"))
        while True:
            waited = time.perf_counter()
            batch = next(batches, None)
            seconds["wait_s"] += time.perf_counter() - waited  # Ray Data: read, check, embed
            if batch is None:
                break
            n = commit(batch, handles["Topics"], handles["State"], space, seconds)
            done += n
            bar.update(n)
    skipped = " (ids already stored were skipped)" if args.resume else ""
    print(f"backfill: {done} documents committed to {args.app} from {origin}{skipped}")
    if args.stats:
        write_stats(Path(args.stats), done, time.perf_counter() - started, seconds, ds)
    return 0


def write_stats(path: Path, done: int, total_s: float, seconds: dict[str, float], ds) -> None:
    """Where the run's time went: start-up, waiting for Ray Data's batches, tagging, committing."""
    stats = {"documents": done, "total_s": round(total_s, 2), **{k: round(v, 2) for k, v in seconds.items()}}
    stats["ray_data"] = ds.stats()  # per-operator wall and CPU time, as Ray Data reports it
    path.write_text(json.dumps(stats, indent=2) + "\n")


def register(sub) -> None:
    p = sub.add_parser("backfill", help="bulk-load JSONL/Parquet files on Ray Data into the running service's store")
    p.add_argument("path", nargs="?", help="a .jsonl or .parquet file, or a directory of them")
    p.add_argument(
        "--from-store",
        metavar="TABLE",
        help="re-embed the documents of this table of the store instead (the model upgrade: docs/store.md)",
    )
    p.add_argument(
        "--storage-uri",
        help="the store of --from-store (default: TOPICSERVE_STORAGE_URI, as the service's)",
    )
    p.add_argument("--address", default="auto", help="the Ray cluster the service runs on (default: auto)")
    p.add_argument("--app", default="topicserve", help="the Serve application (default: topicserve)")
    p.add_argument("--batch-size", type=int, default=256, help="texts per embedding batch (default 256)")
    p.add_argument("--commit-size", type=int, default=256, help="documents per atomic commit (default 256)")
    p.add_argument("--concurrency", type=int, default=1, help="embedding actors (default 1)")
    p.add_argument("--num-cpus", type=float, default=1, help="CPUs per embedding actor (default 1)")
    p.add_argument("--num-gpus", type=float, default=None, help="GPUs per embedding actor (default: 1 if any)")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="embed ids already stored again")
    p.add_argument("--quiet", action="store_true", help="no progress bar of committed documents")
    p.add_argument("--stats", metavar="FILE", help="write where the time went (JSON, with Ray Data's stats) here")
    p.set_defaults(func=run)
