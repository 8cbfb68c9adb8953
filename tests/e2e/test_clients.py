"""Clients people already have, against the deployed app: LangChain's OpenAIEmbeddings as it comes.

With its defaults (``check_embedding_ctx_length=True``) LangChain tokenizes with tiktoken and sends
cl100k_base token ids, not text; the service decodes them and must answer the same vectors as for
the texts. tiktoken reads the cl100k_base table shipped in topicserve/data/tiktoken/ through its
own cache (``TIKTOKEN_CACHE_DIR``), since it cannot download it here.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from openai import OpenAI

from tests.e2e.conftest import BASE
from tests.support.tokens import shipped_tiktoken_table

pytestmark = pytest.mark.e2e
langchain_openai = pytest.importorskip("langchain_openai")

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = [
    "Conservators cleaned the chapel fresco and consolidated the flaking plaster.",
    "Café society — a naïve watercolour of the harbour at dawn 🎨",
    "A bronze horse and rider, cast in three parts.",
]


@pytest.fixture(scope="module")
def embeddings(deployed, tmp_path_factory):
    with shipped_tiktoken_table(tmp_path_factory.mktemp("tiktoken-cache")):
        yield langchain_openai.OpenAIEmbeddings(model=MODEL, base_url=f"{BASE}/v1", api_key="not-needed")


def text_vectors(texts: list[str]) -> np.ndarray:
    got = OpenAI(base_url=f"{BASE}/v1", api_key="not-needed").embeddings.create(model=MODEL, input=texts)
    return np.array([d.embedding for d in got.data])


def test_defaults_send_token_ids(embeddings):
    assert embeddings.check_embedding_ctx_length and embeddings.tiktoken_enabled
    _, sent, _, _ = embeddings._tokenize(TEXTS, embeddings.chunk_size)  # what embed_documents sends
    assert all(isinstance(item, list) and all(type(t) is int for t in item) for item in sent)


def test_langchain_defaults_get_the_vectors_of_the_texts(embeddings):
    got = np.array(embeddings.embed_documents(TEXTS))
    want = text_vectors(TEXTS)
    assert got.shape == (3, 384)
    assert np.min(np.sum(got * want, axis=1)) > 0.9999  # same texts after decoding: same vectors
    query = np.array(embeddings.embed_query(TEXTS[2]))
    assert float(query @ want[2]) > 0.9999 and float(query @ want[0]) < 0.9


def test_langchain_async_path(embeddings):
    got = np.array(asyncio.run(embeddings.aembed_documents(TEXTS[:2])))
    assert np.min(np.sum(got * text_vectors(TEXTS[:2]), axis=1)) > 0.9999
