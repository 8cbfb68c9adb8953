"""The whole service in one process, without Ray: for tests, notebooks and benchmarks."""

from __future__ import annotations

import asyncio

import numpy as np

from topicserve.clients import LocalClient
from topicserve.embedding import Embedder
from topicserve.gateway import Gateway
from topicserve.retag import LocalState
from topicserve.store import DocumentStore
from topicserve.tagging import ModelTagger
from topicserve.topics import TopicModel, TopicsConfig


def build_gateway(
    storage_uri: str,
    *,
    embedder: Embedder | None = None,
    model: str | None = None,
    topics: TopicsConfig | None = None,
    store: DocumentStore | None = None,
) -> Gateway:
    """A Gateway over in-process embedder, topic model and store (``store`` overrides ``storage_uri``)."""
    from topicserve.settings import get_settings

    embedder = embedder or Embedder(model or get_settings().embedding_model, "auto")

    async def embed(texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(embedder.embed, texts)

    store = store or DocumentStore(storage_uri)
    tagger = ModelTagger(TopicModel(embed, topics))  # the model with the Topics deployment's tag/version
    return Gateway(LocalClient(embedder), LocalClient(tagger), LocalClient(LocalState(store, tagger)))
