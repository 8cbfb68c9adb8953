"""Embedding throughput of a running service against raw in-process encode (kept for old notes).

    .venv/bin/python bench/throughput.py --url http://127.0.0.1:8000

The same as ``python -m bench --parts raw,service --runs 1 --url URL``; `make bench` runs every peer.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.__main__ import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--url" not in args:
        args += ["--url", "http://127.0.0.1:8000"]
    sys.exit(main(["--parts", "raw,service", "--runs", "1", *args]))
