"""Embeddings of a benchmark file cached under build/ (gitignored), so tuning runs do not re-embed.

The cache key is the model id, the embedding backend and a hash of the texts: a changed file, model
or backend embeds again. 7,600 AG News texts take minutes on 2 shared cores; a cached run loads in
well under a second.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "build" / "vector-cache"


def cache_path(texts: list[str], model: str, backend: str) -> Path:
    digest = hashlib.sha256("\x1e".join([model, backend, *texts]).encode()).hexdigest()[:16]
    return CACHE_DIR / f"{model.replace('/', '_')}-{backend}-{len(texts)}-{digest}.npy"


def cached_vectors(texts: list[str], embedder) -> np.ndarray:
    """``embedder.embed(texts)``, read from / written to build/vector-cache/."""
    path = cache_path(texts, embedder.model_id, embedder.backend_name)
    if path.exists():
        return np.load(path)
    vectors = embedder.embed(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors
