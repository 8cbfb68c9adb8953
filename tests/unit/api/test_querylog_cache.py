"""The query-log batcher and the search cache, Ray-free (the gateway-level tests are in test_feedback_api.py)."""

from __future__ import annotations

import asyncio

from topicserve.cache import SearchCache
from topicserve.querylog import QueryLog


def test_cache_serves_a_key_within_its_generation_and_empties_on_a_new_one():
    cache: SearchCache[str] = SearchCache(2)
    assert cache.get("g1", "a") is None
    cache.put("g1", "a", "A")
    assert cache.get("g1", "a") == "A" and (cache.hits, cache.misses) == (1, 1)
    assert cache.get("g2", "a") is None and len(cache) == 0  # a write happened: nothing old is served
    cache.put("g1", "a", "stale")  # computed before the write, finished after it: dropped
    assert cache.get("g2", "a") is None


def test_cache_keeps_the_most_recently_used():
    cache: SearchCache[int] = SearchCache(2)
    for key in "abc":
        cache.get("g", key)
        cache.put("g", key, ord(key))
    assert cache.get("g", "a") is None and cache.get("g", "c") == ord("c")
    off: SearchCache[int] = SearchCache(0)
    off.get("g", "a")
    off.put("g", "a", 1)
    assert not off.enabled and off.get("g", "a") is None


def test_query_log_off_records_nothing():
    written: list = []

    async def sink(rows):
        written.extend(rows)

    async def go():
        log = QueryLog(sink, enabled=False)
        log.record("fresco", ["d1"], 3.0, "r1")
        return log

    log = asyncio.run(go())
    assert log.pending == [] and written == []


def test_query_log_writes_in_batches_in_the_background():
    batches: list = []

    async def sink(rows):
        batches.append([r.query for r in rows])

    async def go():
        log = QueryLog(sink, enabled=True, batch=3, every_s=30)
        for q in ("a", "b", "c"):
            log.record(q, ["d1"], 1.0, None)
        assert batches == []  # recording never writes on the caller's path
        await asyncio.wait_for(log._task, 5)  # a full batch does not wait for the 30 s timer
        log.record("d", [], 1.0, "r")
        assert await log.flush() == 1

    asyncio.run(go())
    assert batches == [["a", "b", "c"], ["d"]]


def test_a_failing_writer_loses_the_batch_but_never_raises():
    async def sink(rows):
        raise OSError("disk full")

    async def go():
        log = QueryLog(sink, enabled=True, batch=1, every_s=0)
        log.record("a", [], 1.0, None)
        await asyncio.wait_for(log._task, 5)
        return log

    log = asyncio.run(go())
    assert log.dropped == 1 and log.pending == []
