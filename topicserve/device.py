"""Device choice, in one place: how many GPUs this machine has, and which torch device "auto" means.

Both honour ``TOPICSERVE_FORCE_CPU`` (``Settings.force_cpu``), read through the one settings object.
Used by `make run` (``num_gpus`` 0 without a GPU), preflight's local GPU check and the embedder.
"""

from __future__ import annotations

import shutil
import subprocess

from topicserve.settings import Settings, get_settings


def local_gpu_count(settings: Settings | None = None) -> int:
    """GPUs ``nvidia-smi -L`` lists here; 0 without nvidia-smi, when it fails, or with force_cpu."""
    if (settings or get_settings()).force_cpu:
        return 0
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    out = subprocess.run([smi, "-L"], capture_output=True, text=True)
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines()) if out.returncode == 0 else 0


def has_local_gpu(settings: Settings | None = None) -> bool:
    return local_gpu_count(settings) > 0


def pick_device(requested: str = "auto", settings: Settings | None = None) -> str:
    """``requested`` as it is, or for "auto": cuda when torch sees a GPU (and force_cpu is off), else cpu.

    Without torch installed (the slim CPU image, onnx backends only) "auto" is cpu: no GPU can be used.
    """
    if requested != "auto":
        return requested
    if (settings or get_settings()).force_cpu:
        return "cpu"
    try:
        import torch  # lazy: the ops tools that count GPUs and the slim image's onnx backends do not need torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"
