"""The Embedder's start-up marks (deployments/embedder.py shows them in /readyz; bench/coldstart.py reads them)."""

import subprocess
import sys
import time
from pathlib import Path

from topicserve.embedding.startup import StartupMarks

ROOT = Path(__file__).resolve().parents[3]


def test_process_start_is_when_the_process_started():
    """A child started between two clock reads reports a start between them (btime has 1 s resolution)."""
    code = "from topicserve.embedding.startup import process_started_at; print(process_started_at())"
    before = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    after = time.time()
    started = float(out.stdout)
    assert before - 1.0 <= started <= after + 0.1, (before, started, after)


def test_phases_are_differences_of_marks_and_missing_marks_give_none():
    marks = StartupMarks(process_started=100.0, module_imported=103.5, init_started=103.6, libraries_imported=108.0)
    phases = marks.phases()
    assert phases["process_to_module_imported_s"] == 3.5
    assert phases["backend_imports_s"] == 4.4
    assert phases["model_load_s"] is None and phases["first_batch_s"] is None
