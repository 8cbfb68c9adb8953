"""The store on s3://bucket/prefix against a real local S3 server (moto's server mode).

A small loopback proxy in front of moto fails PUT/POST requests while armed (after letting a given
number through, so a write can fail part-way): the caller gets StoreUnavailable (a 503), the table
is exactly as before, and the next write works.
"""

from __future__ import annotations

import pytest

from tests.support.s3 import open_s3
from tests.support.store import SPACE, doc, snapshot, unit
from topicserve.errors import ModelMismatch, StoreUnavailable
from topicserve.space import EmbeddingSpace


def test_round_trip_reopen_and_space_guard_on_s3(s3):
    store = open_s3(s3)
    store.upsert([doc(0), doc(1)], unit([1, 0, 0, 0], [0, 1, 0, 0]), SPACE)
    store.upsert([doc(1, topic="sculpture")], unit([0, 0, 1, 0]), SPACE)
    assert store.delete(["d0"]) == 1
    again = open_s3(s3)
    assert again.space == SPACE and [d.id for d in again.documents()] == ["d1"]
    assert again.get("d1").topics[0].label == "sculpture"
    assert again.search(unit([0, 0, 1, 0])[0], SPACE, 1)[0][0].id == "d1"
    assert again.search(None, SPACE, 1, mode="keyword", text="text")[0][0].id == "d1"
    with pytest.raises(ModelMismatch, match=r"m \(4-dim.*other \(8-dim"):
        again.bind(EmbeddingSpace(model="other", dim=8))


@pytest.mark.parametrize("allow", [0, 1, 2])
def test_failing_s3_put_leaves_the_table_as_before_and_the_next_write_works(s3, proxy, allow):
    store = open_s3(s3)
    store.upsert([doc(0)], unit([1, 0, 0, 0]), SPACE)
    before = snapshot(store)
    proxy.arm(allow=allow)  # let `allow` object writes through, then refuse the rest
    try:
        with pytest.raises(StoreUnavailable) as err:
            store.upsert([doc(i) for i in range(1, 40)], unit(*[[1, i, 0, 0] for i in range(1, 40)]), SPACE)
        with pytest.raises(StoreUnavailable):
            store.delete(["d0"])
    finally:
        proxy.disarm()
    assert proxy.failed > 0 and err.value.status == 503 and "s3://" not in err.value.message
    assert snapshot(store) == before and snapshot(open_s3(s3)) == before  # nothing of the batch
    store.upsert([doc(7)], unit([0, 1, 0, 0]), SPACE)  # the next write works
    assert sorted(d.id for d in open_s3(s3).documents()) == ["d0", "d7"]
