"""A small kustomize: just the features k8s/ uses, so `render` and `apply` need no kubectl.

Why not shell out to `kubectl kustomize`? The CLI must work where only Python is installed
(CI images, notebooks), and output must be deterministic for tests. The manifests therefore use
three kustomize features only — ``resources`` (files or directories), JSON6902 ``patches`` (a
list of add/remove/replace/test operations, with a ``target``) and ``images`` — and this module
implements exactly those; any other key is an error rather than a silently different result.
tests/unit/k8s/test_k8s_manifests.py compares the output with `kubectl kustomize` where it exists.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from topicserve.errors import InvalidInput

SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "patches", "images"}
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# kustomize's default ("legacy") output order for the kinds we use: volumes before the pods need them.
KIND_ORDER = ["Namespace", "ServiceAccount", "ConfigMap", "Secret", "Service", "PersistentVolumeClaim"]

Obj = dict[str, Any]


def render(directory: str | Path) -> list[Obj]:
    """The objects of the kustomization in ``directory``, patched, in kustomize's order."""
    objects = _build(Path(directory))
    return sorted(objects, key=_order_key)


def _order_key(obj: Obj) -> tuple[int, str, str]:
    kind = obj.get("kind", "")
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return rank, kind, obj.get("metadata", {}).get("name", "")


def _kustomization(directory: Path) -> tuple[Path, Obj]:
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        if path.is_file():
            data = yaml.safe_load(path.read_text()) or {}
            unsupported = set(data) - SUPPORTED_KEYS
            if unsupported:
                raise InvalidInput(
                    f"{path}: unsupported kustomize keys {sorted(unsupported)}; "
                    f"topicserve's renderer supports {sorted(SUPPORTED_KEYS)}"
                )
            return path, data
    raise InvalidInput(f"no kustomization.yaml in {directory}")


def _build(directory: Path) -> list[Obj]:
    path, kustomization = _kustomization(directory)
    objects: list[Obj] = []
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            objects.extend(_build(target))
        elif target.is_file():
            objects.extend(doc for doc in yaml.safe_load_all(target.read_text()) if doc)
        else:
            raise InvalidInput(f"{path}: resource {entry!r} not found")
    for patch in kustomization.get("patches", []):
        _apply_patch_entry(directory, path, patch, objects)
    for image in kustomization.get("images", []):
        for obj in objects:
            _set_images(obj, image)
    return objects


# ---- patches ------------------------------------------------------------------------------
def _apply_patch_entry(directory: Path, path: Path, entry: Obj, objects: list[Obj]) -> None:
    if "path" in entry:
        ops = yaml.safe_load((directory / entry["path"]).read_text())
    else:
        ops = yaml.safe_load(entry.get("patch", ""))
    if not isinstance(ops, list):
        raise InvalidInput(f"{path}: only JSON6902 patches (a list of operations) are supported")
    target = entry.get("target") or {}
    matched = [obj for obj in objects if _matches(obj, target)]
    if not matched:
        raise InvalidInput(f"{path}: patch target {target} matches no resource")
    for obj in matched:
        patched = json_patch(obj, ops)
        obj.clear()
        obj.update(patched)


def _matches(obj: Obj, target: Obj) -> bool:
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    meta = obj.get("metadata", {})
    wanted = {
        "group": group,
        "version": version,
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
    }
    return all(wanted.get(key) == value for key, value in target.items())


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise InvalidInput(f"JSON pointer must start with '/': {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _index(container: list, token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit():
        raise InvalidInput(f"JSON pointer token {token!r} is not a list index")
    index = int(token)
    if index > len(container) - (0 if allow_end else 1):
        raise InvalidInput(f"JSON pointer index {index} out of range (list of {len(container)})")
    return index


def _walk(doc: Any, tokens: list[str], path: str) -> Any:
    for token in tokens:
        if isinstance(doc, list):
            doc = doc[_index(doc, token, allow_end=False)]
        elif isinstance(doc, dict) and token in doc:
            doc = doc[token]
        else:
            raise InvalidInput(f"JSON patch path {path!r} does not exist")
    return doc


def json_patch(doc: Obj, ops: list[Obj]) -> Obj:
    """RFC 6902 add / remove / replace / test on a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        tokens = _pointer(path)
        if kind == "test":
            if _walk(doc, tokens, path) != op.get("value"):
                raise InvalidInput(f"JSON patch test failed at {path!r}: expected {op.get('value')!r}")
            continue
        if not tokens:
            raise InvalidInput("JSON patch on the document root is not supported")
        parent, last = _walk(doc, tokens[:-1], path), tokens[-1]
        value = copy.deepcopy(op.get("value"))
        if kind == "add":
            if isinstance(parent, list):
                parent.insert(_index(parent, last, allow_end=True), value)
            else:
                parent[last] = value
        elif kind in ("remove", "replace"):
            index: int | str
            if isinstance(parent, list):
                index = _index(parent, last, allow_end=False)
            elif last in parent:
                index = last
            else:
                raise InvalidInput(f"JSON patch path {path!r} does not exist")
            if kind == "remove":
                del parent[index]
            else:
                parent[index] = value
        else:
            raise InvalidInput(f"JSON patch op {kind!r} is not supported (add, remove, replace, test)")
    return doc


# ---- images -------------------------------------------------------------------------------
def split_image(image: str) -> tuple[str, str, str]:
    """``name[:tag][@digest]`` -> (name, tag, digest); a registry port is not a tag."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    return name, tag, digest


def _set_images(node: Any, rule: Obj) -> None:
    """kustomize's images transformer: every ``containers``/``initContainers`` at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    if isinstance(container, dict) and "image" in container:
                        container["image"] = _retag(container["image"], rule)
            else:
                _set_images(value, rule)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, rule)


def _retag(image: str, rule: Obj) -> str:
    name, tag, digest = split_image(image)
    if name != rule["name"]:
        return image
    name = rule.get("newName", name)
    if rule.get("digest"):
        return f"{name}@{rule['digest']}"
    tag = rule.get("newTag", tag)
    result = f"{name}:{tag}" if tag else name
    return f"{result}@{digest}" if digest and "newTag" not in rule else result


# ---- output -------------------------------------------------------------------------------
class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_all(objects: list[Any]) -> str:
    """Multi-document YAML; multi-line strings (serveConfigV2) as readable literal blocks."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
