"""Sentence embeddings, Ray-free: load a sentence-transformers model, encode, pool long texts."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from pathlib import Path

import numpy as np

from topicserve.settings import PACKAGED_MODELS
from topicserve.space import EmbeddingSpace

log = logging.getLogger(__name__)


def resolve_model_path(model: str) -> str:
    """Where to load ``model`` from: an existing directory, a packaged model, or a hub id."""
    if Path(model).expanduser().is_dir():
        return str(Path(model).expanduser().resolve())
    package = PACKAGED_MODELS.get(model)
    if package is not None:
        try:
            module = importlib.import_module(package)
        except ImportError:
            log.warning("packaged model %s not installed; trying the hub id %s", package, model)
        else:
            return str(module.get_model_path())
    return model


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


class Embedder:
    """A sentence-transformers model with long-document pooling.

    Texts longer than the model window are split into overlapping token windows; each window is
    embedded and the window vectors are averaged, weighted by their token counts, then
    re-normalised. Mean pooling keeps every part of the document in the vector (truncation would
    drop everything after ~200 words) and, unlike max pooling, stays in the same space as
    short-text vectors, so cosine scores against labels and queries remain comparable.
    """

    def __init__(self, model: str, device: str = "auto", *, threads: int = 0, overlap_tokens: int = 32) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model_id = model
        self.device = pick_device(device)
        self._model = SentenceTransformer(resolve_model_path(model), device=self.device)
        if self.device.startswith("cuda"):
            self._model.half()  # fp16 on GPU: ~2x throughput, quality within noise for retrieval
        elif threads > 0:
            # Ray sets torch's threads to the actor's num_cpus; on a small CPU box more can help.
            torch.set_num_threads(threads)
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.overlap_tokens = min(overlap_tokens, self.max_tokens // 4)
        self.space = EmbeddingSpace(model=model, dim=self.dim, normalized=True)
        # One call at a time: HF fast tokenizers are not safe to share between threads
        # ("Already borrowed"), and a replica runs batches and health checks on different threads.
        self._lock = threading.Lock()

    def info(self) -> dict:
        return {**self.space.model_dump(), "device": self.device, "max_tokens": self.max_tokens}

    def _windows(self, text: str) -> list[tuple[str, int]]:
        """Split ``text`` into model-sized windows of (text, token count); one window if it fits."""
        tokenizer = self._model.tokenizer
        ids = tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
        budget = self.max_tokens - 2  # [CLS] and [SEP]
        if len(ids) <= budget:
            return [(text, max(1, len(ids)))]
        step = budget - self.overlap_tokens
        return [
            (tokenizer.decode(ids[start : start + budget]), len(ids[start : start + budget]))
            for start in range(0, len(ids) - self.overlap_tokens, step)
        ]

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._embed(texts, batch_size)

    def _embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        windows = [self._windows(t) for t in texts]
        flat = [w for ws in windows for w, _ in ws]
        vectors = self._model.encode(
            flat, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)
        if len(flat) == len(texts):
            return vectors
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        row = 0
        for i, ws in enumerate(windows):
            weights = np.array([n for _, n in ws], dtype=np.float32)
            pooled = weights @ vectors[row : row + len(ws)] / weights.sum()
            out[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            row += len(ws)
        return out
