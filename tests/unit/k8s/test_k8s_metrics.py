"""The prod overlay's scrape config and the shipped Grafana dashboard agree with the metrics code."""

from __future__ import annotations

import json
import re

import yaml

from tests.support import ROOT
from tests.support.k8s import rayservice

METRICS_CODE = (ROOT / "deployments" / "metrics.py").read_text()


def test_prod_scrapes_every_ray_pod_on_its_metrics_export_port():
    cluster = rayservice("prod")["spec"]["rayClusterConfig"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    assert len(groups) == 3
    for group in groups:
        annotations = group["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == group["rayStartParams"]["metrics-export-port"] == "8080"


def test_dev_overlay_is_left_without_scrape_annotations():
    cluster = rayservice("dev")["spec"]["rayClusterConfig"]
    assert "annotations" not in cluster["headGroupSpec"]["template"]["metadata"]


def test_podmonitor_selects_the_pods_by_their_label():
    monitor = yaml.safe_load((ROOT / "k8s" / "monitoring" / "podmonitor.yaml").read_text())
    pod_labels = rayservice("prod")["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["metadata"]["labels"]
    assert monitor["kind"] == "PodMonitor"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_dashboard_queries_only_metrics_the_code_defines():
    dashboard = json.loads((ROOT / "k8s" / "monitoring" / "grafana-dashboard.json").read_text())
    defined = set(re.findall(r'"(topicserve_\w+)"', METRICS_CODE))
    assert len(defined) == 8
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queried = {
        re.sub(r"_(total|bucket|sum|count)$", "", n) for e in exprs for n in re.findall(r"ray_(topicserve_\w+)", e)
    }
    assert queried == defined  # every metric has a panel, and no panel asks for one that does not exist
