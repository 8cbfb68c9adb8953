"""`python -m topicserve backfill FILE_OR_DIR --address auto`: bulk loading on Ray Data.

Ray Data reads the JSONL / Parquet files, checks each record as POST /documents would
(``schemas.DocumentIn``), drops ids the store already holds (so a crashed or repeated run resumes
where it stopped), and embeds in ``map_batches`` on an actor pool of topicserve's own ``Embedder``
(the running service's model and backend, GPU when asked). The driver then tags each batch through
the service's Topics deployment and commits it through its State deployment (the single writer,
one atomic upsert per batch), over Serve handles: never around the writer. Progress: Ray Data's
bars, and one bar of committed documents.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

JSONL = (".jsonl", ".ndjson", ".json")
LIGHT_CPUS = 0.01  # Ray CPUs asked by the read / check / skip stages


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


def commit(batch: dict[str, np.ndarray], topics, state, space) -> int:
    """Tag one batch through the Topics deployment, then one atomic upsert through the State one."""
    from topicserve.store import StoredDocument

    batch = _unique_last(batch)
    texts = [str(t) for t in batch["text"]]
    vectors = np.asarray(np.stack(list(batch["vector"])), dtype=np.float32)
    tagged = topics.tag.remote(texts, vectors).result()  # topics, nearest labels, taxonomy version
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
    state.upsert.remote(docs, vectors, space).result()
    return len(docs)


def pipeline(path: Path, app: str, space, args: argparse.Namespace):
    """The Ray Data dataset: read -> check -> skip stored -> embed (actor pool)."""
    import ray

    jsonl, parquet = _files(path)
    light: dict[str, Any] = {"num_cpus": LIGHT_CPUS}  # reading/checking are cheap: never wait behind the service
    parts = []
    if jsonl:
        ds = ray.data.read_text(jsonl, num_cpus=LIGHT_CPUS)
        parts.append(ds.map_batches(parse_jsonl, batch_format="numpy", **light))
    if parquet:
        ds = ray.data.read_parquet(parquet, num_cpus=LIGHT_CPUS)  # (the Parquet reader ignores ray_remote_args)
        parts.append(ds.map_batches(parse_parquet, batch_format="pyarrow", **light))
    ds = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    if args.resume:
        ds = ds.map_batches(SkipStored, fn_constructor_args=(app,), concurrency=1, batch_size=1024, **light)
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


def run(args: argparse.Namespace) -> int:
    import ray
    from ray import serve
    from tqdm import tqdm

    from topicserve.space import EmbeddingSpace

    path = Path(args.path).expanduser().resolve()
    env = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "HF_HOME", "TOPICSERVE_ONNX_CACHE_DIR") if k in os.environ}
    # py_modules: the workers import this checkout's topicserve (the Ray Data stages run there).
    ray.init(address=args.address, runtime_env={"py_modules": [str(Path(__file__).parent)], "env_vars": env})
    handles = {name: serve.get_deployment_handle(name, app_name=args.app) for name in ("Embedder", "Topics", "State")}
    space = EmbeddingSpace.from_info(handles["Embedder"].info.remote().result(timeout_s=600))
    ds = pipeline(path, args.app, space, args)
    done = 0
    with tqdm(desc="committed", unit="doc", disable=args.quiet) as bar:
        for batch in ds.iter_batches(batch_size=args.commit_size, batch_format="numpy"):
            n = commit(batch, handles["Topics"], handles["State"], space)
            done += n
            bar.update(n)
    skipped = " (ids already stored were skipped)" if args.resume else ""
    print(f"backfill: {done} documents committed to {args.app} from {path}{skipped}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("backfill", help="bulk-load JSONL/Parquet files on Ray Data into the running service's store")
    p.add_argument("path", help="a .jsonl or .parquet file, or a directory of them")
    p.add_argument("--address", default="auto", help="the Ray cluster the service runs on (default: auto)")
    p.add_argument("--app", default="topicserve", help="the Serve application (default: topicserve)")
    p.add_argument("--batch-size", type=int, default=256, help="texts per embedding batch (default 256)")
    p.add_argument("--commit-size", type=int, default=256, help="documents per atomic commit (default 256)")
    p.add_argument("--concurrency", type=int, default=1, help="embedding actors (default 1)")
    p.add_argument("--num-cpus", type=float, default=1, help="CPUs per embedding actor (default 1)")
    p.add_argument("--num-gpus", type=float, default=None, help="GPUs per embedding actor (default: 1 if any)")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="embed ids already stored again")
    p.add_argument("--quiet", action="store_true", help="no progress bar of committed documents")
    p.set_defaults(func=run)
