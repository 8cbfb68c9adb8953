"""The whole service in one process, without Ray: for tests, notebooks and benchmarks."""

from __future__ import annotations

import asyncio

import numpy as np

from topicserve.clients import LocalClient
from topicserve.embedding import Embedder
from topicserve.gateway import Gateway
from topicserve.store import DocumentStore
from topicserve.store.service import InProcessState
from topicserve.topics import LabelVectors, TopicModel, TopicsConfig
from topicserve.topics.examples import FeedbackExamples


def build_gateway(
    storage_uri: str,
    *,
    embedder: Embedder | None = None,
    model: str | None = None,
    topics: TopicsConfig | None = None,
    store: DocumentStore | None = None,
    label_vectors: LabelVectors | None = None,
) -> Gateway:
    """A Gateway over in-process embedder, topic model and store (``store`` overrides ``storage_uri``;
    ``label_vectors`` lets several gateways share label embeddings, e.g. in tests)."""
    from topicserve.settings import get_settings

    embedder = embedder or Embedder(model or get_settings().embedding_model, "auto")

    async def embed(texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(embedder.embed, texts)

    # The documents and their side tables (feedback, query log) in one object, as the State deployment.
    state = LocalClient(InProcessState(store or DocumentStore(storage_uri), storage_uri))
    feedback = FeedbackExamples(state.feedback_generation, state.feedback_examples)
    return Gateway(
        LocalClient(embedder),
        LocalClient(TopicModel(embed, topics, label_vectors=label_vectors, feedback=feedback)),
        state,
    )
