"""preflight's custom-resource check: what deployments ask for against what the target declares."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.support import ROOT
from topicserve.k8s.sync import k8s_serve_config
from topicserve.preflight.gpu import k8s_groups, start_param_resources
from topicserve.preflight.resources import check_resources, resource_needs, unmet

SERVE = yaml.safe_load((ROOT / "serve_config.yaml").read_text())


def deployments(config: dict) -> list[dict]:
    return config["applications"][0]["deployments"]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ('"{\\"topicserve_store\\": 1}"', {"topicserve_store": 1.0}),  # KubeRay's quoted form
        ('{"a": 2}', {"a": 2.0}),
        (None, {}),
        ("not json", {}),
    ],
)
def test_ray_start_params_resources_parse(raw, parsed):
    assert start_param_resources(raw) == parsed


def test_needs_come_from_the_config_over_the_code():
    built = [{"name": "State", "ray_actor_options": {"resources": {"disk": 1}}}, {"name": "Embedder"}]
    assert resource_needs([], built) == {"State": {"disk": 1.0}}
    assert resource_needs([{"name": "State", "ray_actor_options": {"resources": {}}}], built) == {}
    assert resource_needs(deployments(SERVE), None) == {}, "serve_config.yaml must deploy on a plain `ray start`"
    assert resource_needs(deployments(k8s_serve_config(SERVE)), None) == {"State": {"topicserve_store": 1.0}}


def test_unmet_needs_one_node_with_all_of_them():
    needs = {"State": {"a": 1, "b": 1}}
    assert unmet(needs, {"n1": {"a": 1, "b": 1, "CPU": 2}}) == {}
    assert unmet(needs, {"n1": {"a": 1}, "n2": {"b": 1}}) == needs  # split over two nodes does not place it
    assert unmet(needs, {}) == needs


def test_a_plain_local_ray_is_flagged_with_the_flag_to_add(tmp_path):
    (finding,) = check_resources({"State": {"topicserve_store": 1}}, "local", tmp_path, None)
    assert finding.level == "warning" and "plain `ray start --head`" in finding.message
    assert "--resources '{\"topicserve_store\": 1}'" in finding.fix
    assert check_resources({}, "local", tmp_path, None)[0].level == "ok"


def test_k8s_groups_are_checked_and_the_fix_names_ray_start_params(tmp_path):
    assert check_resources({"State": {"topicserve_store": 1}}, "k8s", ROOT, None)[0].level == "ok"
    (tmp_path / "k8s").mkdir()
    shutil.copy(ROOT / "tests/unit/data/rayservice.yaml", tmp_path / "k8s/rayservice.yaml")
    assert [g.resources for g in k8s_groups(tmp_path)] == [{}, {}]
    error = check_resources({"State": {"topicserve_store": 1}}, "k8s", tmp_path, None)[0]
    assert error.level == "error" and "State" in error.message and "no node in the k8s declares it" in error.message
    assert "rayStartParams.resources" in error.fix and "topicserve_store" in error.fix
