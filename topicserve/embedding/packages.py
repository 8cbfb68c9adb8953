"""What each embedding backend imports, and a clear refusal when a package is missing.

The slim CPU image (Dockerfile target ``cpu-slim``, requirements-slim.lock) has no torch,
sentence-transformers or onnx: it serves ``onnx-int8`` from an artifact its builder stage exported.
Asking it for the torch backend, or for an export or quantization it did not bake, must say so in
one line naming the package, not end in an ImportError traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from topicserve.embedding.base import BackendRejected

# Module -> the distribution that provides it (what `pip install` wants).
DISTRIBUTIONS = {
    "torch": "torch",
    "sentence_transformers": "sentence-transformers",
    "transformers": "transformers",
    "onnx": "onnx",
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "nncf": "nncf",
}


class BackendUnavailable(BackendRejected):
    """A backend (or the ONNX export step) whose packages are not installed here."""


def unavailable(purpose: str, module: str, exc: ImportError) -> BackendUnavailable:
    package = DISTRIBUTIONS.get(module.split(".")[0], module.split(".")[0])
    return BackendUnavailable(
        f"{purpose} needs the Python package {package}, which is not installed here ({exc}). "
        "The torch-free image (requirements-slim.lock) serves only TOPICSERVE_EMBEDDING_BACKEND=onnx-int8 "
        "from the ONNX artifact baked into it; use that backend, or an image or venv built from requirements.lock."
    )


def require(purpose: str, module: str) -> ModuleType:
    """``module`` imported; BackendUnavailable naming its package (and ``purpose``) when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise unavailable(purpose, module, exc) from exc
