"""Local-disk fault injection: a full disk (a tiny tmpfs) and a read-only directory (a read-only bind
mount; root ignores file permissions, a mount does not). A write that fails part-way leaves the
table exactly as before, the caller gets StoreUnavailable (503), and the next write works."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager

import numpy as np
import pytest

from tests.support.store import SPACE, doc, snapshot, unit
from topicserve.errors import StoreUnavailable
from topicserve.store import DocumentStore


def _mount(*args: str) -> None:
    out = subprocess.run(["mount", *args], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip(f"mount not permitted here ({out.stderr.strip()}); these faults need root and mount")


@contextmanager
def tmpfs(path, size: str):
    path.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def big_batch(n: int, chars: int):
    """Incompressible texts (random letters): Lance compresses repetitive columns very well."""
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), chars)) for _ in range(n)]
    docs = [doc(100 + i).model_copy(update={"text": t}) for i, t in enumerate(texts)]
    return docs, rng.normal(size=(n, 4)).astype(np.float32)


def test_disk_full_mid_write_leaves_the_table_as_before_and_the_next_write_works(tmp_path):
    with tmpfs(tmp_path / "small", "2m") as root:
        store = DocumentStore(str(root), background=False)
        store.upsert([doc(0), doc(1)], unit([1, 0, 0, 0], [0, 1, 0, 0]), SPACE)
        before = snapshot(store)
        docs, vectors = big_batch(40, 100_000)  # ~4 MB of text on a 2 MB disk
        with pytest.raises(StoreUnavailable) as err:
            store.upsert(docs, vectors, SPACE)
        assert err.value.status == 503 and str(root) not in err.value.message
        assert snapshot(store) == before
        assert snapshot(DocumentStore(str(root), background=False)) == before  # also after a restart
        _mount("-o", "remount,size=64m", str(root))  # the operator frees space
        store.upsert([doc(2)], unit([0, 0, 1, 0]), SPACE)
        assert [d.id for d in DocumentStore(str(root), background=False).documents()] == ["d0", "d1", "d2"]


def test_read_only_directory_refuses_writes_and_deletes_then_recovers(tmp_path):
    root = tmp_path / "store"
    store = DocumentStore(str(root), background=False)
    store.upsert([doc(0), doc(1)], unit([1, 0, 0, 0], [0, 1, 0, 0]), SPACE)
    before = snapshot(store)
    _mount("--bind", str(root), str(root))
    try:
        _mount("-o", "remount,bind,ro", str(root))
        with pytest.raises(StoreUnavailable):
            store.upsert([doc(5)], unit([0, 0, 0, 1]), SPACE)
        with pytest.raises(StoreUnavailable):
            store.delete(["d0"])
        assert snapshot(store) == before  # reads still work, nothing changed
        assert store.search(unit([1, 0, 0, 0])[0], SPACE, 1)[0][0].id == "d0"
    finally:
        subprocess.run(["umount", str(root)], check=False)
    store.upsert([doc(5)], unit([0, 0, 0, 1]), SPACE)
    assert [d.id for d in DocumentStore(str(root), background=False).documents()] == ["d0", "d1", "d5"]
