"""A small LRU of /search answers, keyed by the store's generation and the normalised request. Ray-free.

The key is (generation, request): the generation (``DocumentStore.generation``) changes after every
commit, so an answer computed before a write is never served after it; a new generation empties
the cache. The request is the validated model as JSON (defaults filled in, timestamps in UTC), so
two bodies that mean the same search share an entry.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class SearchCache(Generic[V]):
    """(OrderedDict rather than a dependency: cachetools is not in the lock.)"""

    def __init__(self, size: int) -> None:
        self.size = size
        self.generation: str | None = None
        self.hits = self.misses = 0
        self._entries: OrderedDict[str, V] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def _at(self, generation: str) -> None:
        if generation != self.generation:
            self._entries.clear()
            self.generation = generation

    def get(self, generation: str, key: str) -> V | None:
        self._at(generation)
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        self.misses += 1
        return None

    def put(self, generation: str, key: str, value: V) -> None:
        """Keep ``value`` unless the store moved on while it was computed (then it is dropped)."""
        if not self.enabled or generation != self.generation:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
