"""Sentence embeddings, Ray-free: tokenize, compute, pool, with long texts pooled over windows.

The three steps are kept apart so that every backend shares tokenization and pooling and differs
only in ``compute`` (token ids -> token vectors): sentence-transformers' torch model, or the same
weights exported to ONNX (fp32 or int8) and run by onnxruntime, or that fp32 export run by OpenVINO.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel

from topicserve.device import pick_device
from topicserve.settings import PACKAGED_MODELS, get_settings
from topicserve.space import EmbeddingSpace

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

Features = dict[str, np.ndarray]  # a padded batch: input_ids, attention_mask (, token_type_ids)
BackendName = Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-int8"]
BACKENDS: tuple[str, ...] = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")


class BackendRejected(RuntimeError):
    """A backend whose vectors disagree with the fp32 reference (or cannot load): never served."""


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


def model_directory(model: str) -> Path:
    """A local directory holding the model's files (a hub id resolves to its local snapshot)."""
    path = resolve_model_path(model)
    if Path(path).is_dir():
        return Path(path)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(path))


class Pooling(BaseModel):
    """How token vectors become one sentence vector, as the model's sentence-transformers config says."""

    mode: Literal["mean", "cls", "max"] = "mean"
    normalize: bool = True  # topicserve always serves L2-normalised vectors (cosine = dot product)

    @classmethod
    def from_model_dir(cls, model_dir: Path) -> Pooling:
        config = model_dir / "1_Pooling" / "config.json"
        if not config.exists():
            return cls()  # sentence-transformers' default for a plain transformer: mean pooling
        cfg = json.loads(config.read_text())
        for mode in ("cls", "max"):
            if cfg.get(f"pooling_mode_{mode}_token") or cfg.get(f"pooling_mode_{mode}_tokens"):
                return cls(mode=mode)
        return cls(mode="mean")

    def __call__(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        mask = mask[..., None].astype(np.float32)
        if self.mode == "cls":
            pooled = tokens[:, 0]
        elif self.mode == "max":
            pooled = np.where(mask > 0, tokens, -1e9).max(axis=1)
        else:
            pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if self.normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)


class Backend(ABC):
    """The compute step of one backend: padded token ids in, token vectors (batch, tokens, dim) out."""

    name: str
    device: str = "cpu"
    tokenizer: PreTrainedTokenizerBase  # a Hugging Face fast tokenizer
    max_tokens: int
    dim: int
    threads: int = 0  # CPU threads of the compute step (0: the runtime's default)
    precision: str = "f32"  # the compute step's arithmetic: f32, int8 (onnx-int8), bf16 (openvino on AMX), int8+bf16
    pad_to_multiple_of: int | None = None  # pad a batch's length up to a multiple (fewer distinct shapes)
    batch_size: int = 32  # texts per compute call: an embed() of more is split, longest texts first

    @abstractmethod
    def compute(self, features: dict[str, np.ndarray]) -> np.ndarray: ...

    def compute_all(self, batches: Iterable[Features]) -> Iterator[tuple[Features, np.ndarray]]:
        """(features, token vectors) of each batch, in order. One at a time here; a backend with several
        streams overrides it to keep them all busy (``batches`` is read lazily: the next batch is
        tokenized while the previous ones compute)."""
        for features in batches:
            yield features, self.compute(features)

    def reference(self) -> np.ndarray | None:
        """fp32 vectors of GATE_SENTENCES to gate this backend on; None for the reference itself."""
        return None

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Padded token ids of a batch (each text fits the window: long texts were split before)."""
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np",
            pad_to_multiple_of=self.pad_to_multiple_of,
        )  # fmt: skip
        return {k: np.asarray(v, dtype=np.int64) for k, v in batch.items()}


# The load gate's fixed sentences: short and long, several domains, punctuation and numbers.
GATE_SENTENCES = [
    "The museum opened a new wing for modern sculpture.",
    "Stocks fell sharply after the central bank raised interest rates by half a point.",
    "The striker scored twice in the second half to win the cup final.",
    "A new chip promises faster neural network inference on laptops.",
    "Heavy rain flooded the valley and thousands were evacuated overnight.",
    "She painted the harbour at dawn, in thin washes of blue and grey.",
    "How do I reset my password?",
    "Quarterly revenue rose 12% to $4.1 billion, beating analyst estimates.",
    "The committee postponed the vote on the climate bill until next week.",
    "Photographs of the eclipse were taken with a 400 mm lens.",
    "Researchers sequenced the genome of an ancient wheat variety.",
    "The orchestra performed Mahler's fifth symphony to a sold-out hall.",
    "Negotiators reached a ceasefire agreement after three days of talks.",
    "Open-source developers released a patch for the security flaw.",
    "The chef's tasting menu features fermented vegetables and smoked fish.",
    "ok",
    "A long report on the history of printmaking, from woodcuts and etchings to lithography. " * 12,
]


def default_cache_dir() -> Path:
    """Where exported ONNX artifacts live unless TOPICSERVE_ONNX_CACHE_DIR says otherwise."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("topicserve")) / "onnx"


def load_backend(name: str, model_dir: Path, device: str, threads: int, **options) -> Backend:
    """The compute step of backend ``name``; ``options`` go to the ONNX / OpenVINO backends (cache_dir, ...)."""
    if name == "torch":
        from topicserve.embedding.torch import TorchBackend

        return TorchBackend(model_dir, device, threads)
    if name in ("onnx", "onnx-int8"):
        from topicserve.embedding.onnx import OnnxBackend

        return OnnxBackend(model_dir, quantized=name == "onnx-int8", threads=threads, **options)
    if name in ("openvino", "openvino-int8"):
        from topicserve.embedding.openvino import OpenVinoBackend

        return OpenVinoBackend(model_dir, threads=threads, quantized=name == "openvino-int8", **options)
    raise ValueError(f"unknown embedding backend {name!r}: choose one of {', '.join(BACKENDS)}")


class Embedder:
    """A sentence embedding model with long-document pooling, on one of several backends.

    Texts longer than the model window are split into overlapping token windows; each window is
    embedded and the window vectors are averaged, weighted by their token counts, then
    re-normalised. Mean pooling keeps every part of the document in the vector (truncation would
    drop everything after ~200 words) and, unlike max pooling, stays in the same space as
    short-text vectors, so cosine scores against labels and queries remain comparable.

    A backend other than the fp32 reference is gated at load: its vectors of GATE_SENTENCES must
    agree with the reference's (mean cosine >= ``min_cosine``), or it raises BackendRejected.
    """

    def __init__(
        self,
        model: str,
        device: str = "auto",
        *,
        backend: str | None = None,
        threads: int = 0,
        overlap_tokens: int = 32,
        min_cosine: float | None = None,
        onnx_options: dict | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        settings = get_settings()
        self.model_id = model
        self.backend_name = backend or settings.embedding_backend
        model_dir = model_directory(model)
        self.pooling = Pooling.from_model_dir(model_dir)
        self.backend = load_backend(self.backend_name, model_dir, pick_device(device), threads, **(onnx_options or {}))
        self.device = self.backend.device
        self.dim = self.backend.dim
        self.max_tokens = self.backend.max_tokens
        self.overlap_tokens = min(overlap_tokens, self.max_tokens // 4)
        # One call at a time: HF fast tokenizers are not safe to share between threads
        # ("Already borrowed"), and a replica runs batches and health checks on different threads.
        self._lock = threading.Lock()
        self.agreement = self._gate(settings.onnx_min_cosine if min_cosine is None else min_cosine)
        self.space = EmbeddingSpace(
            model=model, dim=self.dim, normalized=True, backend=self.backend_name, agreement=self.agreement
        )

    def _gate(self, min_cosine: float) -> float | None:
        reference = self.backend.reference()
        if reference is None:
            return None
        agreement = float(np.mean(np.sum(self.embed(GATE_SENTENCES) * reference, axis=1)))
        if not agreement >= min_cosine:  # `not >=` also refuses NaN
            raise BackendRejected(
                f"embedding backend {self.backend_name} refused: mean cosine to the fp32 reference on "
                f"{len(GATE_SENTENCES)} gate sentences is {agreement:.4f}, below the required {min_cosine:.4f} "
                "(TOPICSERVE_ONNX_MIN_COSINE). Use TOPICSERVE_EMBEDDING_BACKEND=torch or onnx, or delete the "
                "cached artifact to export it again."
            )
        log.info("embedding backend %s passed the gate: mean cosine %.4f", self.backend_name, agreement)
        return agreement

    def info(self) -> dict:
        return {
            **self.space.model_dump(),
            "device": self.device,
            "max_tokens": self.max_tokens,
            "threads": self.backend.threads,
            "precision": self.backend.precision,
        }

    def _windows(self, text: str, ids: list[int] | None = None) -> list[tuple[str, int]]:
        """Split ``text`` (its token ids ``ids``, if known) into model-sized windows of (text, token count)."""
        tokenizer = self.backend.tokenizer
        if ids is None:
            ids = tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"]
        budget = self.max_tokens - 2  # [CLS] and [SEP]
        if len(ids) <= budget:
            return [(text, max(1, len(ids)))]
        step = budget - self.overlap_tokens
        return [
            (str(tokenizer.decode(ids[start : start + budget])), len(ids[start : start + budget]))
            for start in range(0, len(ids) - self.overlap_tokens, step)
        ]

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Padded token ids of a batch (each text fits the window: long texts were split before)."""
        return self.backend.tokenize(texts)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """tokenize -> compute -> pool, in batches of similar length (less padding), original order."""
        batch_size = batch_size or self.backend.batch_size
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        tokenized = (self.tokenize([texts[i] for i in rows]) for rows in batches)
        for rows, (features, tokens) in zip(batches, self.backend.compute_all(tokenized), strict=True):
            out[rows] = self.pooling(tokens, features["attention_mask"])
        return out

    def embed(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._embed(texts, batch_size)

    def _embed(self, texts: list[str], batch_size: int | None) -> np.ndarray:
        # One batched call for every text's token ids (not one call per text: ~4% of an int8 batch).
        all_ids = self.backend.tokenizer(texts, add_special_tokens=False, truncation=False)["input_ids"]
        windows = [self._windows(t, ids) for t, ids in zip(texts, all_ids, strict=True)]
        flat = [w for ws in windows for w, _ in ws]
        vectors = self.encode(flat, batch_size)
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
