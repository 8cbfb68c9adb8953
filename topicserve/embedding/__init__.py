"""Sentence embeddings: ``Embedder`` on a backend (TOPICSERVE_EMBEDDING_BACKEND: torch, onnx, onnx-int8, openvino,
openvino-int8)."""

from topicserve.embedding.base import (
    BACKENDS,
    GATE_SENTENCES,
    Backend,
    BackendRejected,
    Embedder,
    Pooling,
    model_directory,
    pick_device,
    resolve_model_path,
)

__all__ = [
    "BACKENDS",
    "GATE_SENTENCES",
    "Backend",
    "BackendRejected",
    "Embedder",
    "Pooling",
    "model_directory",
    "pick_device",
    "resolve_model_path",
]
