"""In-process peers: raw sentence-transformers encode and topicserve's onnx, onnx-int8, openvino and openvino-int8
backends."""

from __future__ import annotations

import numpy as np

from bench.load import latency_p50_ms, throughput
from topicserve.embedding import Embedder, model_directory
from topicserve.settings import DEFAULT_MODEL


def backend_peers(cores: int) -> list[tuple[str, int]]:
    """topicserve's in-process peers, (backend, threads): the fast CPU backends with all cores and 1 thread
    (a replica's size), onnx fp32 once (the int8 and openvino models' source graph)."""
    return [
        ("onnx", cores), ("onnx-int8", cores), ("onnx-int8", 1), ("openvino", cores), ("openvino", 1),
        ("openvino-int8", cores), ("openvino-int8", 1),
    ]  # fmt: skip


def set_torch_threads(threads: int) -> int:
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def sentence_transformers_row(texts: list[str], batch: int, threads: int) -> dict:
    """Raw `SentenceTransformer.encode` (batch ``batch``, normalised), the reference of every ratio."""
    from sentence_transformers import SentenceTransformer

    used = set_torch_threads(threads)
    model = SentenceTransformer(str(model_directory(DEFAULT_MODEL)), device="cpu")

    def call(chunk: list[str]) -> np.ndarray:
        return model.encode(chunk, batch_size=batch, normalize_embeddings=True, convert_to_numpy=True)

    return {
        "peer": f"sentence-transformers encode (torch fp32, {used} threads)",
        "kind": "raw",
        "backend": "torch",
        "threads": used,
        "texts_per_s": throughput(call, texts, batch),
        "p50_ms": latency_p50_ms(call, texts),
    }


def backend_row(backend: str, texts: list[str], batch: int, threads: int, **onnx_options) -> dict:
    """topicserve's Embedder on ``backend`` (tokenize + compute + pool), in-process, no service."""
    model = Embedder(DEFAULT_MODEL, "cpu", backend=backend, threads=threads, onnx_options=onnx_options or None)
    call = model.embed
    return {
        "peer": f"topicserve Embedder, {backend} ({threads or 'default'} threads)",
        "kind": "raw",
        "backend": backend,
        "threads": threads or model.backend.threads,
        "texts_per_s": throughput(call, texts, batch),
        "p50_ms": latency_p50_ms(call, texts),
        "gate_cosine": model.agreement,
        "precision": model.backend.precision,
    }
