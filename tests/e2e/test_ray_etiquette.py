"""The tests' Ray stops without touching any other Ray on the machine (no `ray stop`)."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.e2e.raycluster import BIN, FAST_STOP, PORTS
from topicserve.localray import RayHead, RayPorts, dashboard_up
from topicserve.preflight.resources import check_resources, cluster_nodes

pytestmark = pytest.mark.e2e


@pytest.fixture
def bystander(local_ray, tmp_path):
    """Someone else's Ray: other ports, other temp dir, running next to the tests' one."""
    temp = tempfile.mkdtemp(prefix="tsby-", dir="/tmp")
    head = RayHead(ports=RayPorts.block(PORTS.gcs + 1000), temp_dir=temp)
    head.start(BIN / "ray", tmp_path / "bystander.log", env=FAST_STOP)
    yield head
    head.stop()
    shutil.rmtree(temp, ignore_errors=True)


def test_preflight_checks_custom_resources_against_the_running_cluster(local_ray, tmp_path):
    """The tests' Ray is a plain `ray start --head`: it declares no custom resource."""
    nodes = cluster_nodes(local_ray.dashboard)
    assert len(nodes) == 1 and all("topicserve_store" not in res for res in nodes.values())
    assert check_resources({}, "local", tmp_path, local_ray.dashboard)[0].level == "ok"
    error = check_resources({"State": {"topicserve_store": 1}}, "local", tmp_path, local_ray.dashboard)[0]
    assert error.level == "error" and "no node in the cluster declares it" in error.message
    assert "--resources '{\"topicserve_store\": 1}'" in error.fix


def test_stopping_the_tests_ray_leaves_another_ray_running(local_ray, bystander):
    """Last in the module, and the module last in the run: the tests' Ray stays stopped;
    ``deploy_app`` starts it again where needed."""
    assert dashboard_up(local_ray.dashboard) and dashboard_up(bystander.dashboard)
    local_ray.stop()
    assert not dashboard_up(local_ray.dashboard), "the tests' Ray did not stop"
    assert bystander.alive() and dashboard_up(bystander.dashboard), "stopping the tests' Ray stopped another"
    bystander.stop()
    assert not dashboard_up(bystander.dashboard)
