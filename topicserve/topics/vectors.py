"""Label vectors: each label text embedded once, kept in a bounded cache, with the prototype vectors
and background statistics the zero-shot scores need (prototypes.py)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from topicserve.settings import get_settings
from topicserve.taxonomy import Label
from topicserve.topics.base import EmbedFn
from topicserve.topics.prototypes import LabelPrototypes, build_prototypes, prototype_texts

REFERENCE_PATH = Path(__file__).resolve().parents[1] / "data" / "reference_sentences.txt"


@cache
def reference_sentences() -> tuple[str, ...]:
    lines = REFERENCE_PATH.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class LRU(OrderedDict):
    """A dict that keeps the ``size`` most recently used keys. (Ten lines of OrderedDict rather than a
    dependency: cachetools is not in the lock.)"""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_fresh(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class LabelVectors:
    """Embeds texts once and keeps the most recent ones (labels can come from requests, so the cache
    is bounded: ``label_cache_size``); a taxonomy change only embeds the new texts."""

    def __init__(self, embed: EmbedFn, size: int | None = None) -> None:
        self._embed = embed
        size = size or get_settings().label_cache_size
        self._cache: LRU = LRU(size)
        self._protos: LRU = LRU(size)

    async def vectors(self, texts: Sequence[str]) -> np.ndarray:
        found = {t: v for t in dict.fromkeys(texts) if (v := self._cache.get_fresh(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            for text, vector in zip(missing, await self._embed(missing), strict=True):
                found[text] = np.asarray(vector, dtype=np.float32)
                self._cache.put(text, found[text])
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    async def matrix(self, labels: Sequence[Label]) -> np.ndarray:
        """One L2-normalised row per label: the mean of the vectors of its texts."""
        rows = []
        for label in labels:
            mean = (await self.vectors(label.texts())).mean(axis=0)
            rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        return np.stack(rows).astype(np.float32)

    async def prototypes(self, labels: Sequence[Label], pooling: str) -> list[LabelPrototypes]:
        """Each label's prototype vectors and background statistics (cached by label texts and pooling)."""
        found = {k: p for label in labels if (p := self._protos.get_fresh(k := (label.key(), pooling))) is not None}
        missing = [label for label in labels if (label.key(), pooling) not in found]
        if missing:
            background = await self.vectors(list(reference_sentences()))
            for label in missing:
                texts, protos = await self.vectors(label.texts()), await self.vectors(prototype_texts(label))
                found[(label.key(), pooling)] = build_prototypes(label, texts, protos, background, pooling)
                self._protos.put((label.key(), pooling), found[(label.key(), pooling)])
        return [found[(label.key(), pooling)] for label in labels]
