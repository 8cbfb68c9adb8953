"""The tests' Ray stops without touching any other Ray on the machine (no `ray stop`)."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.e2e.raycluster import BIN, PORTS
from topicserve.localray import RayHead, RayPorts, dashboard_up

pytestmark = pytest.mark.e2e


@pytest.fixture
def bystander(local_ray, tmp_path):
    """Someone else's Ray: other ports, other temp dir, running next to the tests' one."""
    temp = tempfile.mkdtemp(prefix="tsby-", dir="/tmp")
    head = RayHead(ports=RayPorts.block(PORTS.gcs + 1000), temp_dir=temp)
    head.start(BIN / "ray", tmp_path / "bystander.log")
    yield head
    head.stop()
    shutil.rmtree(temp, ignore_errors=True)


def test_stopping_the_tests_ray_leaves_another_ray_running(local_ray, bystander):
    assert dashboard_up(local_ray.dashboard) and dashboard_up(bystander.dashboard)
    env = local_ray.env
    local_ray.stop()
    try:
        assert not dashboard_up(local_ray.dashboard), "the tests' Ray did not stop"
        assert bystander.alive() and dashboard_up(bystander.dashboard), "stopping the tests' Ray stopped another"
    finally:
        local_ray.start(env=env)  # later modules deploy on it again
    bystander.stop()
    assert not dashboard_up(bystander.dashboard)
