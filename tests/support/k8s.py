"""The shipped kustomize overlays, rendered by topicserve's renderer."""

from __future__ import annotations

from tests.support import ROOT
from topicserve.k8s import kustomize


def render(overlay: str) -> list[dict]:
    return kustomize.render(ROOT / "k8s" / "overlays" / overlay)


def rayservice(overlay: str) -> dict:
    (obj,) = [o for o in render(overlay) if o["kind"] == "RayService"]
    return obj
