"""Sentence embeddings: ``Embedder`` on the torch, onnx or onnx-int8 backend (TOPICSERVE_EMBEDDING_BACKEND)."""

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
