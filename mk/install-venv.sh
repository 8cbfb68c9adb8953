#!/usr/bin/env bash
# usage: mk/install-venv.sh VENV LOCK — create VENV if missing and install LOCK into it.
# With uv (the default; INSTALLER=pip forces pip) when uv can be had: a pinned uv is pip-installed
# once into build/uv-$UV_VERSION (outside every venv, so a venv holds exactly its lock), and
# mk/install_lock.py hands it pip's package sources. Falls back to pip if uv cannot be installed
# or fails.
set -euo pipefail
venv=$1 lock=$2
python=${PYTHON:-python3}
uv_version=${UV_VERSION:-0.13.8}
uv_dir=build/uv-$uv_version
here=$(dirname "$0")

test -x "$venv/bin/python" || "$python" -m venv "$venv"

# pip's notes about the machine's unused extra indexes are noise; its exit status is kept.
quiet_pip() { "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; return "${PIPESTATUS[0]}"; }

if [ "${INSTALLER:-uv}" = uv ]; then
  if [ -x "$uv_dir/bin/uv" ] || quiet_pip install -q --target "$uv_dir" "uv==$uv_version"; then
    if "$venv/bin/python" "$here/install_lock.py" "$uv_dir/bin/uv" "$venv/bin/python" "$lock"; then
      # The pip path upgrades the venv's own pip too (not in any lock): the same here.
      "$uv_dir/bin/uv" pip install -q --python "$venv/bin/python" --upgrade pip || true
      exit 0
    fi
  fi
  echo "install-venv: uv could not install $lock; installing it with pip" >&2
fi
quiet_pip install -q --upgrade pip
quiet_pip install -q -r "$lock"
