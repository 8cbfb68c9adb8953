"""Client-side validation of a RayService against the CRD's OpenAPI v3 schema (vendored, trimmed).

k8s/crd/rayservice-v1-schema.yaml holds the fields topicserve uses, copied from KubeRay's CRD
(provenance in the file). The OpenAPI schema becomes a JSON Schema the way the API server reads
a structural schema with strict field validation (kubectl's default): unknown fields are errors
unless ``x-kubernetes-preserve-unknown-fields``; ``format: int32/int64`` bound integers.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

import yaml

from topicserve.errors import InvalidInput
from topicserve.k8s.sync import ROOT

SCHEMA_PATH = ROOT / "k8s" / "crd" / "rayservice-v1-schema.yaml"
INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def to_json_schema(node: Any) -> Any:
    """An OpenAPI v3 structural schema as a Draft 2020-12 JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("type") == "integer" and node.get("format") in INT_BOUNDS:
        out["minimum"], out["maximum"] = INT_BOUNDS[node["format"]]
    closed = "properties" in node and "additionalProperties" not in node
    if node.get("type") == "object" and closed and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=1)
def rayservice_schema() -> dict:
    schema = to_json_schema(yaml.safe_load(SCHEMA_PATH.read_text()))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def errors(obj: dict) -> list[str]:
    """Every schema violation of ``obj`` as ``path: message``; empty when valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(copy.deepcopy(rayservice_schema()))
    found = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


def validate(obj: dict) -> None:
    problems = errors(obj)
    if problems:
        name = obj.get("metadata", {}).get("name", "?")
        raise InvalidInput(f"RayService {name} does not match the KubeRay CRD schema:\n  " + "\n  ".join(problems))
