"""Resolve ``import_path`` in the unpacked working_dir as a Ray worker would, and explain failures.

The resolution itself runs in a fresh subprocess (``topicserve/preflight/import_probe.py``): cwd is the
unpacked root, PYTHONPATH starts with it, the application's ``env_vars`` are set. This module turns
the probe's raw result into findings: the missing module and where it actually is, a folder
shadowed by an installed package of the same name (ray#37042), a namespace package without
``__init__.py``, an attribute that is not a Serve application.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from topicserve.preflight.findings import ERROR, INFO, OK, WARNING, Finding
from topicserve.preflight.import_probe import MARKER

PROBE_SOURCE = (Path(__file__).parent / "import_probe.py").read_text()
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", ".tox", "build"}


@dataclass
class ImportCheck:
    findings: list[Finding] = field(default_factory=list)
    deployments: list[dict] | None = None  # [{"name", "ray_actor_options"}] when the app was built
    probe: dict = field(default_factory=dict)


def worker_env(
    root: Path, env_vars: dict | None = None, base: dict | None = None, exclude: Path | None = None
) -> dict[str, str]:
    """The environment of a Ray worker for this working_dir: env_vars applied, root first on PYTHONPATH.

    Entries of the inherited PYTHONPATH that point at the local checkout (``exclude``) or the current
    directory are dropped: the cluster does not have your checkout, only the archive.
    """
    env = dict(os.environ if base is None else base)
    env_vars = {k: str(v) for k, v in (env_vars or {}).items()}
    python_path = [str(root)]
    if env_vars.get("PYTHONPATH"):
        python_path.append(env_vars["PYTHONPATH"])
    skip = {"", "."} | ({str(exclude.resolve())} if exclude else set())
    inherited = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p not in skip]
    python_path += [p for p in inherited if str(Path(p).resolve()) not in skip]
    env.update(env_vars)
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    return env


def run_probe(
    root: Path,
    import_path: str,
    *,
    env_vars: dict | None = None,
    args: dict | None = None,
    name: str = "default",
    python: str = sys.executable,
    timeout: float = 300,
    exclude: Path | None = None,
) -> dict:
    spec = json.dumps({"import_path": import_path, "args": args or {}, "name": name})
    proc = subprocess.run(
        [python, "-c", PROBE_SOURCE, spec],
        cwd=root,
        env=worker_env(root, env_vars, exclude=exclude),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {
        "error": {"stage": "process", "type": "ProcessError", "message": " | ".join(tail), "name": None},
        "ray": None,
    }


def find_in_tree(root: Path, leaf: str, limit: int = 5) -> list[str]:
    """Relative paths of ``leaf.py`` files or ``leaf/`` folders anywhere below ``root``."""
    hits: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        rel = Path(dirpath).relative_to(root)
        if f"{leaf}.py" in filenames:
            hits.append(str(rel / f"{leaf}.py"))
        if leaf in dirnames:
            hits.append(str(rel / leaf) + "/")
        if len(hits) >= limit:
            break
    return hits


def _inside(path: str | None, root: Path) -> bool:
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _dotted(rel: str) -> str:
    return rel.removesuffix("/").removesuffix(".py").replace("/", ".")


def _user_frame(traceback_text: str, root: Path) -> str:
    """'app.py:3' for the deepest frame of the traceback that lies in the working_dir."""
    where = ""
    for line in traceback_text.splitlines():
        line = line.strip()
        if line.startswith('File "') and str(root.resolve()) in line:
            path, _, rest = line[6:].partition('", line ')
            where = f"{Path(path).resolve().relative_to(root.resolve())}:{rest.split(',')[0]}"
    return where


Add = Callable[..., None]  # add(level, message, fix="")


def diagnose(probe: dict, root: Path, import_path: str, app: str = "", checkout: Path | None = None) -> list[Finding]:
    """Findings for one probe result. ``checkout``: the local git checkout, to spot uncommitted files."""
    out: list[Finding] = []

    def add(level: str, message: str, fix: str = "") -> None:
        out.append(Finding(level, "import", message, fix, app))

    module_name = probe.get("module") or import_path.split(":")[0]
    _warn_environment(probe, root, add)
    shadow = _shadowing_module(probe, root)
    if shadow:
        name = shadow["name"]
        add(
            ERROR,
            f"module {name!r} resolves to an installed module ({shadow['file']}), not to your "
            f"{name.replace('.', '/')} in the working_dir (shadowed, like ray#37042)",
            f"rename your module/package (e.g. {module_name.split('.')[0]}_app) and update import_path; "
            "add __init__.py if it is a folder",
        )
    elif probe.get("error") is None:
        _report_success(probe, root, import_path, module_name, add)
    else:
        _report_error(probe, root, import_path, module_name, checkout, add)
    return out


def _warn_environment(probe: dict, root: Path, add: Add) -> None:
    """Ray missing where the probe ran; folders of the working_dir without __init__.py."""
    if not probe.get("ray"):
        why = probe.get("ray_error", "not importable")
        add(
            WARNING,
            f"ray is not importable where the probe ran ({why}): import checked with importlib only, "
            "the Serve Application check by class name",
            "run preflight with the cluster image's Python (--python)",
        )
    for info in probe.get("modules") or []:
        if (
            info
            and "." not in info["name"]
            and not info.get("file")
            and any(_inside(p, root) for p in info.get("path", []))
        ):
            folder = info["name"].replace(".", "/")
            add(
                WARNING,
                f"folder {folder}/ has no __init__.py (a namespace package): an "
                f"installed package named {info['name']!r} would take its place",
                f"add {folder}/__init__.py",
            )


def _shadowing_module(probe: dict, root: Path) -> dict | None:
    """The first imported module that exists in the working_dir but was loaded from elsewhere."""
    for info in probe.get("modules") or []:
        if not info or not info.get("file") or _inside(info["file"], root):
            continue
        rel = info["name"].replace(".", "/")
        if (root / rel).is_dir() or (root / (rel + ".py")).exists():
            return info
    return None


def _report_success(probe: dict, root: Path, import_path: str, module_name: str, add: Add) -> None:
    file = next((i.get("file") for i in reversed(probe.get("modules") or []) if i), None)
    if file and not _inside(file, root):
        add(
            WARNING,
            f"{module_name!r} was imported from {file}, outside the working_dir",
            "make sure the module the app needs is in the repository",
        )
    deps = probe.get("deployments") or []
    add(
        OK,
        f"{import_path} -> {probe.get('attr_type', '?')} with {len(deps)} deployment(s): "
        + ", ".join(d["name"] for d in deps),
    )


def _report_error(probe: dict, root: Path, import_path: str, module_name: str, checkout: Path | None, add: Add) -> None:
    err = probe["error"]
    kind, message, missing = err.get("type"), err.get("message", ""), err.get("name") or ""
    where = _user_frame(err.get("traceback", ""), root)
    at = f" (raised at {where})" if where else ""
    if err.get("stage") == "process":
        add(ERROR, f"the import probe did not report: {message}", "run the import by hand in the unpacked folder")
    elif kind == "ModuleNotFoundError" and missing:
        _report_missing_module(probe, root, import_path, module_name, checkout, add, at=at)
    elif err.get("stage") == "import" and kind == "AttributeError":
        cands = probe.get("candidates") or []
        hint = f"; Serve applications in it: {', '.join(cands)}" if cands else ""
        add(
            ERROR,
            f"module {module_name!r} has no attribute {probe.get('attr')!r}{hint}",
            f"use import_path {module_name}:{cands[0]}" if cands else "define `app = MyDeployment.bind()` in it",
        )
    elif err.get("stage") == "build" and kind == "TypeError":
        add(
            ERROR,
            f"{import_path} is a {probe.get('attr_type')}, not a Serve application: {message}",
            "point import_path at the result of Deployment.bind() (or a builder function)",
        )
    elif kind == "ValueError" and "at most one colon" in message:
        add(ERROR, message, "use module.path:attribute")
    else:
        add(
            ERROR,
            f"{'building' if err.get('stage') == 'build' else 'importing'} {import_path} raised {kind}: {message}{at}",
            "this is what `serve status` will show; reproduce with `make preflight`",
        )
    if kind == "ModuleNotFoundError":
        listing = ", ".join(sorted(p.name + "/" * p.is_dir() for p in root.iterdir()))
        add(INFO, f"working_dir root holds: {listing[:300]}")


def _report_missing_module(
    probe: dict, root: Path, import_path: str, module_name: str, checkout: Path | None, add: Add, *, at: str
) -> None:
    """A ModuleNotFoundError: nested in the working_dir, only in the local checkout, or nowhere."""
    err = probe["error"]
    message, missing = err.get("message", ""), err["name"]
    leaf = missing.split(".")[-1]
    hits = find_in_tree(root, leaf)
    own = module_name == missing or module_name.startswith(missing + ".")
    subject = f"import_path {import_path!r} names module {module_name!r}" if own else f"the app imports {missing!r}{at}"
    if hits:
        suggestion = _dotted(hits[0])
        add(
            ERROR,
            f"{subject}, which is not importable from the working_dir root; it exists at {hits[0]} "
            "(a nested path: it works where you ran it, but Ray puts only the unpacked root on sys.path): "
            f"ModuleNotFoundError: {message}",
            f"use import_path {suggestion}:{probe.get('attr') or 'app'}"
            if own
            else f"import it as {suggestion} (or relatively), or move it to the repository root",
        )
    elif checkout and (find_in_tree(checkout, leaf) and not _inside(str(checkout), root)):
        add(
            ERROR,
            f"{subject}, which is in your checkout ({find_in_tree(checkout, leaf)[0]}) but not in the "
            f"pinned commit: ModuleNotFoundError: {message}",
            "git add + commit + push it, then `make pin`",
        )
    else:
        add(
            ERROR,
            f"{subject}: ModuleNotFoundError: {message}; it is neither in the working_dir nor installed",
            "fix import_path, commit the module, or add the package to the cluster image / requirements",
        )


def check_import(
    root: Path,
    import_path: str,
    *,
    app: str = "",
    env_vars: dict | None = None,
    args: dict | None = None,
    python: str = sys.executable,
    checkout: Path | None = None,
) -> ImportCheck:
    probe = run_probe(
        root, import_path, env_vars=env_vars, args=args, name=app or "default", python=python, exclude=checkout
    )
    findings = diagnose(probe, root, import_path, app=app, checkout=checkout)
    deployments = probe.get("deployments") if probe.get("error") is None else None
    return ImportCheck(findings, deployments, probe)
