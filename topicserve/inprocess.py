"""The whole service in one process, without Ray: for tests, notebooks and benchmarks."""

from __future__ import annotations

import asyncio

import numpy as np

from topicserve.clients import LocalClient
from topicserve.embedding import Embedder
from topicserve.gateway import Gateway
from topicserve.retag import LocalState
from topicserve.store import DocumentStore
from topicserve.store.service import InProcessState
from topicserve.tagging import ModelTagger
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

    # The documents and their side tables (feedback, query log) in one object, as the State deployment,
    # plus the re-tag status (LocalState) that the State deployment keeps.
    side = InProcessState(store or DocumentStore(storage_uri), storage_uri)
    writer = LocalClient(side)  # async calls, as through a handle
    feedback = FeedbackExamples(writer.feedback_generation, writer.feedback_examples)
    # the model with the Topics deployment's tag/version
    tagger = ModelTagger(TopicModel(embed, topics, label_vectors=label_vectors, feedback=feedback))
    return Gateway(LocalClient(embedder), LocalClient(tagger), LocalClient(LocalState(side, tagger)))
