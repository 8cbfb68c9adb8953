"""Can the target place the GPUs the config asks for? Local: a GPU present. k8s: the worker groups.

A replica asking for more GPUs than any node offers stays PENDING and the application never
becomes RUNNING, with no error: this check makes that a line in preflight instead. On Kubernetes,
KubeRay derives ``--num-gpus`` from the container's ``nvidia.com/gpu`` **limits** (ray#59265 for
the NVML failure mode), so a request without a limit counts as no GPU.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from topicserve.device import local_gpu_count
from topicserve.preflight.findings import ERROR, INFO, OK, WARNING, Finding


@dataclass
class Group:
    manifest: str
    name: str
    gpus: float  # what Ray will see per pod: rayStartParams num-gpus, else the nvidia.com/gpu limit
    requested_only: bool = False  # nvidia.com/gpu in requests but not in limits
    resources: dict[str, float] = field(default_factory=dict)  # rayStartParams.resources (custom)


def start_param_resources(raw: str | None) -> dict[str, float]:
    """``rayStartParams.resources``: JSON, usually quoted once more for KubeRay ('"{\\"a\\": 1}"')."""
    value = raw
    while isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return {str(k): float(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _group(manifest: str, name: str, spec: dict) -> Group:
    params = spec.get("rayStartParams") or {}
    limit = request = 0.0
    for container in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
        res = container.get("resources") or {}
        limit += float((res.get("limits") or {}).get("nvidia.com/gpu", 0) or 0)
        request += float((res.get("requests") or {}).get("nvidia.com/gpu", 0) or 0)
    gpus = float(params["num-gpus"]) if "num-gpus" in params else limit
    resources = start_param_resources(params.get("resources"))
    return Group(manifest, name, gpus, requested_only=request > 0 and limit == 0, resources=resources)


def k8s_groups(root: Path) -> list[Group]:
    """Head and worker groups of every RayService / RayCluster under ``root/k8s``."""
    import yaml

    groups: list[Group] = []
    base = root / "k8s"
    if not base.is_dir():
        return groups
    for path in sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")]):
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") not in ("RayService", "RayCluster"):
                continue
            spec = doc.get("spec") or {}
            cluster = (spec.get("rayClusterConfig", spec) or {}) if doc["kind"] == "RayService" else spec
            rel = str(path.relative_to(root))
            if cluster.get("headGroupSpec"):
                groups.append(_group(rel, "head", cluster["headGroupSpec"]))
            for worker in cluster.get("workerGroupSpecs") or []:
                groups.append(_group(rel, worker.get("groupName", "worker"), worker))
    return groups


def gpu_needs(config_deployments: list[dict], built: list[dict] | None) -> dict[str, float]:
    """num_gpus per replica by deployment: the config's ray_actor_options win over the code's."""
    needs = {d["name"]: float((d.get("ray_actor_options") or {}).get("num_gpus") or 0) for d in built or []}
    for dep in config_deployments:
        opts = dep.get("ray_actor_options") or {}
        if "num_gpus" in opts:
            needs[dep["name"]] = float(opts["num_gpus"] or 0)
    return {k: v for k, v in needs.items() if v > 0}


def check_gpus(needs: dict[str, float], target: str, root: Path, app: str = "") -> list[Finding]:
    if not needs:
        return [Finding(OK, "gpu", "no deployment asks for a GPU", app=app)]
    asks = ", ".join(f"{k} num_gpus={v:g}" for k, v in needs.items())
    most = max(needs.values())
    if target == "local":
        have = local_gpu_count()
        if have >= math.ceil(most):
            return [Finding(OK, "gpu", f"{asks}; {have} GPU(s) here", app=app)]
        return [
            Finding(
                ERROR,
                "gpu",
                f"{asks} per replica, but this machine has {have} GPU(s) (nvidia-smi): the replicas would stay "
                "PENDING and the app never RUNNING",
                "set num_gpus: 0 for a CPU run (`make run` derives such a config) or check with --target k8s",
                app,
            )
        ]
    groups = k8s_groups(root)
    if not groups:
        return [Finding(WARNING, "gpu", f"{asks}, but no RayService/RayCluster found under k8s/ to check", app=app)]
    out = [
        Finding(
            WARNING,
            "gpu",
            f"{g.manifest} group {g.name} requests nvidia.com/gpu but sets no limit: KubeRay derives --num-gpus "
            "from limits, so Ray sees 0 GPUs there (ray#59265)",
            "put nvidia.com/gpu in resources.limits (and optionally rayStartParams num-gpus)",
            app,
        )
        for g in groups
        if g.requested_only
    ]
    fits = [g for g in groups if g.gpus >= most]
    if fits:
        out.append(Finding(OK, "gpu", f"{asks}; fits group(s) " + ", ".join(g.name for g in fits), app=app))
    else:
        offered = ", ".join(f"{g.name}={g.gpus:g}" for g in groups)
        out.append(
            Finding(
                ERROR,
                "gpu",
                f"{asks} per replica, but no group in k8s/ offers that many GPUs per pod ({offered})",
                "add a GPU worker group with nvidia.com/gpu in limits, or lower num_gpus",
                app,
            )
        )
    out.append(Finding(INFO, "gpu", f"groups checked: {len(groups)} in k8s/", app=app))
    return out
