"""A small LRU of /search answers, keyed by the store's generation and the normalised request. Ray-free.

The key is (generation, request): the generation (``DocumentStore.generation``) changes after every
commit, so an answer computed before a write is never served after it; a new generation empties
the cache. The request is the validated model as JSON (defaults filled in, timestamps in UTC), so
two bodies that mean the same search share an entry.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

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

    def lookup(self, key: str) -> tuple[str, V] | None:
        """(generation, answer) kept for ``key``, without counting or reordering: whether it is still
        current is for the store to say (``search_view``), in the call that would otherwise search."""
        if self.generation is None or key not in self._entries:
            return None
        return self.generation, self._entries[key]

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


def view_generation(commits: str, retag: dict[str, Any]) -> str:
    """The cache's generation: the store's commits and the taxonomy state it reports (a config change
    moves the version before any re-tag commit)."""
    return f"{commits}/{retag['version']}/{retag['in_progress']}"


def must_search(generation: str, known: str | None, vector: Any, mode: str) -> bool:
    """Whether a ``search_view`` searches: not when the caller's kept answer is of this generation, nor
    when it sent no vector for a search that needs one (its kept answer is stale: it embeds, asks again)."""
    return generation != known and (vector is not None or mode == "keyword")


async def search_view(
    commits: str, retag: dict[str, Any], known: str | None, vector: Any, mode: str, search: Callable[[], Awaitable[Any]]
) -> dict[str, Any]:
    """The State's one-round-trip /search read, for the deployment and its in-process twin alike:
    {generation, retag, hits}, the generation taken from ``commits`` read before ``search`` runs (so an
    answer can only be newer than its label); ``hits`` is None when `must_search` says no."""
    generation = view_generation(commits, retag)
    hits = await search() if must_search(generation, known, vector, mode) else None
    return {"generation": generation, "retag": retag, "hits": hits}
