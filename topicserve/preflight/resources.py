"""Does the target cluster declare every custom Ray resource a deployment asks for?

A replica asking for a resource no node has (``ray_actor_options.resources``) stays pending and
the application never becomes RUNNING, with no error. Checked against a running cluster
(``--address``, its alive nodes) or against the k8s manifests' ``rayStartParams.resources``.
"""

from __future__ import annotations

import json
from pathlib import Path

from topicserve.preflight.findings import ERROR, INFO, OK, WARNING, Finding
from topicserve.preflight.gpu import k8s_groups

# Ray's predefined resources (and node:<ip> labels) are not custom resources.
BUILTIN = {"CPU", "GPU", "memory", "object_store_memory", "accelerator_type"}


def resource_needs(config_deployments: list[dict], built: list[dict] | None) -> dict[str, dict[str, float]]:
    """Custom resources per replica by deployment: the config's ray_actor_options win over the code's."""
    needs: dict[str, dict[str, float]] = {}
    for dep in [*(built or []), *config_deployments]:
        opts = dep.get("ray_actor_options") or {}
        if "resources" in opts:
            needs[dep["name"]] = {str(k): float(v) for k, v in (opts["resources"] or {}).items()}
    return {name: res for name, res in needs.items() if res}


def custom(resources: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in resources.items() if k not in BUILTIN and not k.startswith(("node:", "accelerator_type:"))}


def unmet(needs: dict[str, dict[str, float]], nodes: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The deployments no single node (name -> its resources) can host, with what they ask for."""
    return {
        dep: want
        for dep, want in needs.items()
        if not any(all(have.get(k, 0) >= v for k, v in want.items()) for have in nodes.values())
    }


def cluster_nodes(address: str) -> dict[str, dict[str, float]]:
    """Alive nodes of the cluster whose dashboard is at ``address`` and their total resources."""
    from ray.util.state import list_nodes

    nodes = list_nodes(address=address, filters=[("state", "=", "ALIVE")], timeout=30)
    return {f"node {n.node_name}": {k: float(v) for k, v in (n.resources_total or {}).items()} for n in nodes}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def fix_for(missing: dict[str, dict[str, float]], where: str) -> str:
    resources = json.dumps({k: _number(v) for want in missing.values() for k, v in want.items()})
    if where == "k8s":
        quoted = json.dumps(resources)
        return f"add rayStartParams.resources: '{quoted}' to the worker group meant to run them"
    return (
        f"start the node meant to run them with `ray start ... --resources '{resources}'`, or drop "
        "`resources` from their ray_actor_options (topicserve's serve_config.yaml needs none)"
    )


def check_resources(needs: dict[str, dict[str, float]], target: str, root: Path, address: str | None, app: str = ""):
    if not needs:
        return [Finding(OK, "resources", "no deployment asks for a custom resource", app=app)]
    asks = ", ".join(f"{dep} {json.dumps(want)}" for dep, want in needs.items())
    if address:
        where, nodes = "cluster", cluster_nodes(address)
    elif target == "k8s":
        where, nodes = "k8s", {f"{g.manifest} group {g.name}": g.resources for g in k8s_groups(root)}
    else:
        return [
            Finding(
                WARNING,
                "resources",
                f"{asks}: a plain `ray start --head` declares no custom resources, so these replicas would stay "
                "pending",
                "check the cluster with --address http://HEAD:8265, or " + fix_for(needs, "local"),
                app,
            )
        ]
    missing = unmet(needs, nodes)
    if not missing:
        return [Finding(OK, "resources", f"{asks}; declared in the {where}", app=app)]
    offered = "; ".join(f"{name}: {json.dumps(custom(res)) or '{}'}" for name, res in nodes.items()) or "no nodes"
    return [
        Finding(
            ERROR,
            "resources",
            f"{', '.join(missing)} ask(s) for {json.dumps(missing)} but no node in the {where} declares it "
            f"(custom resources: {offered}): the replicas would stay pending and the app never RUNNING",
            fix_for(missing, "k8s" if where == "k8s" else "local"),
            app,
        ),
        Finding(INFO, "resources", f"checked {len(nodes)} node(s)/group(s) in the {where}", app=app),
    ]
