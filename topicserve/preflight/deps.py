"""The lock versus an environment: this venv, another interpreter, or a cluster image's `pip freeze`.

A freeze file may start with the output of ``python -V`` (``Python 3.11.9``) so the Python
version is checked too: ``{ python -V; pip freeze; } > image-freeze.txt`` inside the image.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from topicserve.preflight.findings import ERROR, INFO, OK, WARNING, Finding

# The libraries whose version drift breaks a deploy most often: a mismatch is an error.
KEY_PACKAGES = ("ray", "torch", "transformers", "sentence-transformers")
_PIN = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*(?P<version>[^\s;#\\]+)")
_PYTHON = re.compile(r"(?i)\bpython[ =:]+v?(?P<version>3\.\d+(?:\.\d+)?)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(text: str) -> dict[str, str]:
    """``name==version`` lines (extras, markers, hashes, comments ignored) keyed by normalized name."""
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match and not line.lstrip().startswith("#"):
            pins[normalize(match["name"])] = match["version"]
    return pins


def python_in(text: str) -> str | None:
    """A Python version named in a lock/freeze header (``# ... on Python 3.11`` or ``Python 3.11.9``)."""
    for line in text.splitlines()[:10]:
        match = _PYTHON.search(line)
        if match:
            return match["version"]
    return None


@dataclass
class Environment:
    source: str
    packages: dict[str, str] = field(default_factory=dict)
    python: str | None = None


_LIST_SOURCE = (
    "import importlib.metadata as m, json, platform;"
    "print(json.dumps({'python': platform.python_version(),"
    " 'packages': {d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}}))"
)


def interpreter_environment(python: str = sys.executable) -> Environment:
    """Installed distributions of ``python`` (importlib.metadata, run in that interpreter)."""
    out = subprocess.run([python, "-c", _LIST_SOURCE], capture_output=True, text=True, check=True, timeout=120)
    data = json.loads(out.stdout)
    packages = {normalize(k): v for k, v in data["packages"].items()}
    return Environment(f"the environment of {python}", packages, data["python"])


def freeze_environment(path: Path) -> Environment:
    text = Path(path).read_text()
    return Environment(f"pip freeze file {path}", parse_pins(text), python_in(text))


def _same(lock: str, have: str) -> bool:
    return lock.split("+")[0] == have.split("+")[0]


def compare(lock_text: str, env: Environment) -> list[Finding]:
    """Findings for the lock against ``env``: errors for the key packages and Python, info for the rest."""
    lock = parse_pins(lock_text)
    out = _python_findings(python_in(lock_text), env)
    out += [f for name in KEY_PACKAGES for f in _key_package_findings(name, lock.get(name), env)]
    others = [
        f"{n} {env.packages.get(n, 'missing')} (lock {v})"
        for n, v in sorted(lock.items())
        if n not in KEY_PACKAGES and not _same(v, env.packages.get(n, ""))
    ]
    if others:
        message = f"{len(others)} other locked package(s) differ in {env.source}: " + ", ".join(others)
        out.append(Finding(INFO, "dependencies", message))
    if not any(f.level in (ERROR, WARNING) for f in out):
        keys = ", ".join(f"{n} {env.packages[n]}" for n in KEY_PACKAGES if n in env.packages)
        out.append(Finding(OK, "dependencies", f"{env.source} matches the lock for {keys or 'the key packages'}"))
    return out


def _python_findings(lock_py: str | None, env: Environment) -> list[Finding]:
    if lock_py and env.python:
        if env.python.split(".")[:2] == lock_py.split(".")[:2]:
            return []
        message = f"Python {env.python} in {env.source}, but the lock was compiled on Python {lock_py}"
        fix = f"use a Python {lock_py} image (e.g. rayproject/ray:<ver>-py{lock_py.replace('.', '')})"
        return [Finding(ERROR, "dependencies", message, fix)]
    if lock_py:
        message = f"Python version of {env.source} unknown (lock: {lock_py})"
        return [Finding(INFO, "dependencies", message, "put `python -V` output on the freeze file's first line")]
    return []


def _key_package_findings(name: str, want: str | None, env: Environment) -> list[Finding]:
    have = env.packages.get(name)
    if want is None:
        return []
    if have is None:
        message = f"{name}=={want} is locked but not installed in {env.source}"
        return [Finding(ERROR, "dependencies", message, "build the image from requirements.lock")]
    if not _same(want, have):
        fix = "rebuild the image from requirements.lock (or `make lock` if the lock is behind)"
        return [Finding(ERROR, "dependencies", f"{name} {have} in {env.source}, lock pins {want}", fix)]
    if want != have:
        return [Finding(INFO, "dependencies", f"{name} {have} matches lock {want} (local build label)")]
    return []
