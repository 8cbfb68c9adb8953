"""The document store: one LanceDB table (docs/store.md). ``DocumentStore`` is the writer's handle."""

from typing import TYPE_CHECKING

from topicserve.store.documents import StoredDocument
from topicserve.store.legacy import LegacyStoreError

if TYPE_CHECKING:
    from topicserve.store.table import DocumentStore

__all__ = ["DocumentStore", "LegacyStoreError", "StoredDocument"]


def __getattr__(name: str):
    """``DocumentStore`` on first use (PEP 562): importing lancedb takes ~1 s of CPU, which every
    `python -m topicserve` command paid before it parsed its arguments (topicserve.store.cli)."""
    if name == "DocumentStore":
        from topicserve.store.table import DocumentStore

        return DocumentStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
