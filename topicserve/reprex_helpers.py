"""Small helpers the `reprex/` notebooks share (Ray-free; the notebooks never import ray)."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

from topicserve.preflight.findings import Finding
from topicserve.preflight.importcheck import worker_env
from topicserve.redact import redact


def first_app(config_path: Path) -> dict:
    return yaml.safe_load(Path(config_path).read_text())["applications"][0]


def write_tree(base: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text)
    return base


def locate(root: Path, module: str) -> str:
    """Where a worker for this working_dir would find ``module`` (importlib.util.find_spec, nothing run)."""
    code = (
        "import importlib.util, sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')];"
        f"s = importlib.util.find_spec({module.split('.')[0]!r});"
        "print(s.origin if s and s.origin else (list(s.submodule_search_locations) if s else 'not found'))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=worker_env(root), capture_output=True, text=True)
    return (out.stdout or out.stderr).strip()


def show(findings: list[Finding], levels: tuple[str, ...] = ("error", "warning", "info", "ok"), secrets=()) -> None:
    for finding in findings:
        if finding.level in levels:
            print(redact(finding.line(), list(secrets)))


@contextmanager
def credentials_env(netrc: Path | None = None, bearer: str | None = None):
    """Set NETRC / RAY_RUNTIME_ENV_BEARER_TOKEN for a block (the variables Ray's nodes would have)."""
    saved = {k: os.environ.get(k) for k in ("NETRC", "RAY_RUNTIME_ENV_BEARER_TOKEN")}
    os.environ["NETRC"] = str(netrc) if netrc else os.devnull
    if bearer:
        os.environ["RAY_RUNTIME_ENV_BEARER_TOKEN"] = bearer
    else:
        os.environ.pop("RAY_RUNTIME_ENV_BEARER_TOKEN", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_IMPORTLIB_ONLY = """
import importlib, sys
sys.path[:] = [p for p in sys.path if p not in ("", ".")]
path = sys.argv[1]
if ":" in path:
    module_name, attr_name = path.split(":")
else:
    module_name, attr_name = path[: path.rfind(".")], path[path.rfind(".") + 1 :]
try:
    obj = getattr(importlib.import_module(module_name), attr_name)
    print(f"OK {path} -> {type(obj).__module__}.{type(obj).__qualname__} from {sys.modules[module_name].__file__}")
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


def import_with_importlib(
    root: Path, import_path: str, env_vars: dict | None = None, python: str = sys.executable
) -> str:
    """Ray's import_path resolution with importlib alone, in a worker-like subprocess: one line of result."""
    proc = subprocess.run(
        [python, "-c", _IMPORTLIB_ONLY, import_path],
        cwd=root,
        env=worker_env(root, env_vars),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return (proc.stdout.strip() or proc.stderr.strip()).splitlines()[-1]
