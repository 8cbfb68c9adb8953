"""The writer's side tables beside the documents: feedback and the query log. Ray-free.

``SideStores`` holds the ``feedback`` and ``queries`` tables of the same database as a
DocumentStore, and the calls the gateway and the Topics model make on them. The State deployment
(deployments/state.py) runs its writes under its one write lock; ``InProcessState`` puts the same
calls beside the DocumentStore's own for the in-process service (topicserve/inprocess.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from topicserve.settings import Settings, get_settings
from topicserve.store.feedback import POSITIVE, FeedbackItemIn, FeedbackRecord, FeedbackStore, current, document_vectors
from topicserve.store.querylog import QueryLogStore, QueryRow
from topicserve.store.sidetable import open_db
from topicserve.store.table import DocumentStore


class SideStores:
    def __init__(self, store: DocumentStore, uri: str, settings: Settings | None = None) -> None:
        self.store, self.settings = store, settings or get_settings()
        db = open_db(uri, self.settings)
        self.feedback = FeedbackStore(db)
        self.queries = QueryLogStore(db)
        self._last_prune = 0.0

    # ---- documents' generation (the search cache's key) --------------------------------------
    def generation(self) -> str:
        return self.store.generation

    # ---- feedback ----------------------------------------------------------------------------
    def feedback_add(
        self, doc_id: str, items: Sequence[FeedbackItemIn], request_id: str | None
    ) -> list[FeedbackRecord]:
        """Store the verdicts on ``doc_id`` in one commit; NotFound (404) when there is no such document."""
        self.store.get(doc_id)
        return self.feedback.add(doc_id, [FeedbackItemIn.model_validate(i) for i in items], request_id)

    def feedback_list(self, doc_id: str) -> list[FeedbackRecord]:
        self.store.get(doc_id)
        return self.feedback.for_document(doc_id)

    def feedback_generation(self) -> int:
        return self.feedback.generation()

    def feedback_examples(self, max_per_label: int) -> dict[str, np.ndarray]:
        """label (lower-cased) -> the stored vectors of its newest confirmed/added documents that exist."""
        candidates: dict[str, list[str]] = {}
        for record in reversed(current(self.feedback.records())):  # newest first
            ids = candidates.setdefault(record.topic.lower(), [])
            if record.verdict in POSITIVE and len(ids) < 4 * max_per_label:  # room for deleted documents
                ids.append(record.doc_id)
        vectors = document_vectors(self.store, [i for ids in candidates.values() for i in ids])
        chosen = {label: [vectors[i] for i in ids if i in vectors][:max_per_label] for label, ids in candidates.items()}
        return {label: np.stack(found) for label, found in chosen.items() if found}

    def feedback_documents(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` documents with feedback: {id, text, positive: [...], rejected: [...]}."""
        by_doc: dict[str, dict[str, list[str]]] = {}
        for record in reversed(current(self.feedback.records())):
            if record.doc_id not in by_doc and len(by_doc) >= limit:
                continue
            kind = "positive" if record.verdict in POSITIVE else "rejected"
            by_doc.setdefault(record.doc_id, {"positive": [], "rejected": []})[kind].append(record.topic)
        docs = {d.id: d for d in self.store.get_many(list(by_doc))}
        return [{"id": i, "text": docs[i].text, **verdicts} for i, verdicts in by_doc.items() if i in docs]

    # ---- query log ---------------------------------------------------------------------------
    def log_queries(self, rows: Sequence[QueryRow]) -> int:
        """Append the rows; prune past the retention at most every ``query_log_prune_s``."""
        self.queries.append([QueryRow.model_validate(r) for r in rows])
        settings = self.settings
        if time.monotonic() - self._last_prune < settings.query_log_prune_s:
            return 0
        self._last_prune = time.monotonic()
        return self.queries.prune(settings.query_log_days, settings.query_log_max_rows)

    def top_queries(self, limit: int, since: datetime | None = None) -> list[dict]:
        return self.queries.top(limit, since)


class InProcessState(SideStores):
    """A DocumentStore and its side tables behind one object: what LocalClient calls in-process."""

    def __getattr__(self, name: str):
        if name == "store":  # not set yet (inside __init__)
            raise AttributeError(name)
        return getattr(self.store, name)  # get, upsert, search, ...: the DocumentStore's own
