"""Install a lock file into a venv with uv, from the package sources pip is configured with.

usage: python mk/install_lock.py UV VENV_PYTHON LOCK

uv installs the same lock several times faster than pip (parallel downloads, no per-package
subprocess), but it reads neither pip.conf nor PIP_* variables. On a machine whose pip takes a local
torch CPU wheel from a find-links folder or an extra index, uv given only the lock would resolve
another build. So the sources come from `pip config list` (files and PIP_* variables, already merged
by pip) and are passed to uv explicitly, and ``--index-strategy unsafe-best-match`` is pip's own
rule (the best version across all indexes; uv's default stops at the first index that has the
name). Exit status: uv's (the Makefile falls back to pip when uv fails or cannot be had).
"""

from __future__ import annotations

import os
import subprocess
import sys

# pip option -> uv option; the values of the list-valued ones are space-separated in pip's config.
LIST_OPTIONS = {"extra-index-url": "--extra-index-url", "find-links": "--find-links", "constraint": "--constraint"}
SINGLE_OPTIONS = {"index-url": "--index-url"}
SECTIONS = ("global", "install", ":env:")  # pip's precedence, lowest first


def pip_config(python: str) -> dict[str, str]:
    """pip's merged configuration for ``pip install``: key -> value, the highest-precedence section winning."""
    out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True).stdout
    found: dict[str, dict[str, str]] = {}
    for line in out.splitlines():
        name, sep, value = line.partition("=")
        section, _, key = name.rpartition(".")
        if sep and section in SECTIONS:
            found.setdefault(key, {})[section] = value.strip().strip("'\"")
    return {key: next(by[s] for s in reversed(SECTIONS) if s in by) for key, by in found.items()}


def uv_arguments(config: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key, option in SINGLE_OPTIONS.items():
        if config.get(key):
            args += [option, config[key]]
    for key, option in LIST_OPTIONS.items():
        for value in config.get(key, "").split():
            if value.startswith("file://") and not os.path.isdir(value.removeprefix("file://")):
                continue  # pip skips a missing local index with a warning; uv would fail on it
            args += [option, value]
    if config.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        args.append("--no-index")
    return args


def uv_environment(config: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    if config.get("cert"):
        env.setdefault("SSL_CERT_FILE", config["cert"])  # pip's CA bundle (a proxy's, on some machines)
    if config.get("timeout") or config.get("default-timeout"):
        env.setdefault("UV_HTTP_TIMEOUT", config.get("timeout") or config["default-timeout"])
    return env


def main(uv: str, python: str, lock: str) -> int:
    config = pip_config(python)
    command = [uv, "pip", "install", "--python", python, "--index-strategy", "unsafe-best-match"]
    command += [*uv_arguments(config), "-r", lock]
    print("+", " ".join(command), flush=True)
    proc = subprocess.Popen(command, env=uv_environment(config), stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # uv's summary and errors; not its line per package
        if not line.startswith((" + ", " - ", "Downloading ", " Downloading ", "Downloaded ", " Downloaded ")):
            sys.stderr.write(line)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
