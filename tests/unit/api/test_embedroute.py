"""RoutedEmbedder: a few texts on the in-ingress copy when it is idle and makes the deployment's
vectors; everything else on the deployment (here the same real model behind a LocalClient)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.support.models import embedder
from topicserve.clients import LocalClient
from topicserve.embedroute import RoutedEmbedder, embed_units


class Counted:
    """The deployment's side: the real model, counting the calls that reach it."""

    def __init__(self, info_patch: dict | None = None) -> None:
        self.model, self.calls, self.patch = embedder(), 0, info_patch or {}

    def info(self) -> dict:
        return self.model.info() | self.patch

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return self.model.embed(texts)


def routed(max_units: int = 4, load=embedder, **patch) -> tuple[RoutedEmbedder, Counted]:
    remote = Counted(patch)
    return RoutedEmbedder(LocalClient(remote), max_units, load=load), remote


async def started(router: RoutedEmbedder, remote: Counted) -> str:
    router.start_loading(remote.info())
    return await router.wait_loaded()


def test_small_requests_are_served_by_the_copy_with_the_deployments_vectors():
    async def go():
        router, remote = routed()
        assert await started(router, remote) == "serving"
        texts = ["a cat on a mat", "stocks fell sharply"]
        mine = await router.embed(texts)
        assert (router.served_locally, remote.calls) == (1, 0)
        theirs = await router.remote.embed(texts)
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
        assert (await router.info())["ingress_copy"]["state"] == "serving"

    asyncio.run(go())


def test_large_or_concurrent_requests_go_to_the_deployment():
    async def go():
        router, remote = routed(max_units=2)
        await started(router, remote)
        await router.embed(["one", "two", "three"])  # over the limit
        await router.embed(["x" * 2500])  # one text, three units
        assert (router.served_locally, remote.calls) == (0, 2)
        both = await asyncio.gather(router.embed(["first"]), router.embed(["second"]))  # the copy is busy
        assert (router.served_locally, remote.calls) == (1, 3)
        assert [v.shape for v in both] == [(1, 384), (1, 384)]

    asyncio.run(go())


@pytest.mark.parametrize(
    "patch",
    [{"backend": "onnx-int8", "agreement": 0.995}, {"device": "cuda:0"}, {"dim": 768}],
    ids=["other-backend", "other-device", "other-dim"],
)
def test_a_copy_that_would_make_other_vectors_never_serves(patch):
    async def go():
        router, remote = routed(**patch)
        assert (await started(router, remote)).startswith("refused")
        await router.embed(["hello"])
        assert (router.served_locally, remote.calls) == (0, 1)

    asyncio.run(go())


def test_off_or_failed_copy_leaves_everything_to_the_deployment():
    def broken():
        raise OSError("no model files here")

    async def go():
        off, remote = routed(max_units=0)
        assert await started(off, remote) == "off"
        failed, remote2 = routed(load=broken)
        assert await started(failed, remote2) == "failed: OSError"
        for router, counted in ((off, remote), (failed, remote2)):
            await router.embed(["hello"])
            assert (router.served_locally, counted.calls) == (0, 1)

    asyncio.run(go())


def test_units_count_long_texts_per_started_thousand_characters():
    assert embed_units(["a", "b" * 1000, "c" * 1001]) == 1 + 1 + 2
