"""Where an Embedder's start-up time goes: wall-clock marks a replica records and /readyz shows.

Marks are Unix times (``time.time()``), so a benchmark can line them up with its own clock and
with Ray's log timestamps (bench/coldstart.py): process start -> module imported -> backend
libraries imported -> model loaded (and gated) -> first batch done.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel

from topicserve.embedding.packages import require

# What each backend imports before it can load a model (the slow imports of a cold replica).
BACKEND_MODULES = {
    "torch": ("torch", "sentence_transformers"),
    "onnx": ("onnxruntime", "transformers"),
    "onnx-int8": ("onnxruntime", "transformers"),
    "openvino": ("openvino", "transformers"),
    "openvino-int8": ("openvino", "transformers"),  # nncf only when the int8 model is not cached yet
}


def process_started_at() -> float | None:
    """This process's start as a Unix time, from /proc (Linux; 10 ms ticks); None elsewhere."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
        )
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat(5): starttime


class StartupMarks(BaseModel):
    process_started: float | None = None
    module_imported: float | None = None
    init_started: float | None = None
    libraries_imported: float | None = None
    model_loaded: float | None = None
    first_batch_done: float | None = None

    def phases(self) -> dict[str, float | None]:
        """Seconds per phase (None where a mark is missing)."""

        def span(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 3)

        return {
            "process_to_module_imported_s": span(self.process_started, self.module_imported),
            "module_to_init_s": span(self.module_imported, self.init_started),
            "backend_imports_s": span(self.init_started, self.libraries_imported),
            "model_load_s": span(self.libraries_imported, self.model_loaded),
            "first_batch_s": span(self.model_loaded, self.first_batch_done),
        }


def import_backend_modules(backend: str) -> None:
    """Import what ``backend`` needs, so that its import time is measured apart from the model load."""
    for name in BACKEND_MODULES.get(backend, ()):
        require(f"embedding backend {backend}", name)


def now() -> float:
    return time.time()
