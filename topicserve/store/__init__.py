"""The document store: one LanceDB table (docs/store.md). ``DocumentStore`` is the writer's handle."""

from topicserve.store.documents import StoredDocument
from topicserve.store.legacy import LegacyStoreError
from topicserve.store.table import DocumentStore

__all__ = ["DocumentStore", "LegacyStoreError", "StoredDocument"]
