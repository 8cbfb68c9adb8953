"""/v1/embeddings takes cl100k_base token ids (what OpenAI-style clients send) as well as text.

The ids are encoded here with the real tiktoken (pointed at the shipped table, so no download) and
must decode to the exact text, embed to the same vectors as the text, and be checked strictly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.app import serve
from tests.support.tokens import shipped_tiktoken_table
from topicserve import token_ids
from topicserve.settings import Settings

TEXTS = [
    "A marble bust of the cardinal, carved in Rome.",
    "Café au lait — naïve 日本語 🎨 and\ttabs\nnewlines.",
    "ok",
]


@pytest.fixture(scope="module")
def encoding(tmp_path_factory):
    """tiktoken's real cl100k_base, read from the shipped table through tiktoken's own cache."""
    tiktoken = pytest.importorskip("tiktoken")
    with shipped_tiktoken_table(tmp_path_factory.mktemp("tiktoken-cache")):
        yield tiktoken.get_encoding("cl100k_base")


@pytest.fixture(scope="module")
def client(embedder, tmp_path_factory):
    storage = tmp_path_factory.mktemp("token-ids-store")
    with serve(storage, embedder, Settings(), raise_server_exceptions=False) as (_, c):
        yield c


def embed(client, value):
    resp = client.post("/v1/embeddings", json={"input": value})
    assert resp.status_code == 200, resp.text
    return np.array([d["embedding"] for d in resp.json()["data"]])


def test_the_shipped_table_decodes_what_tiktoken_encodes(encoding):
    for text in TEXTS:
        assert token_ids.decode(encoding.encode_ordinary(text)) == text
    assert encoding.n_vocab > token_ids.VOCAB  # the rest are special tokens, refused here


def test_token_ids_embed_like_their_text(client, encoding):
    ids = [encoding.encode_ordinary(t) for t in TEXTS]
    np.testing.assert_allclose(embed(client, ids), embed(client, TEXTS), atol=1e-5)
    np.testing.assert_allclose(embed(client, ids[0]), embed(client, TEXTS[0]), atol=1e-5)  # a single array


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([[1, 2], [3, -1]], "input[1][1] = -1 is not a cl100k_base token id"),
        ([100257], "input[0] = 100257 is not a cl100k_base token id"),  # <|endoftext|>
        ([[1, 2], []], "input[1] must be a non-empty array"),
        ([[1, True]], "input[0] must be a non-empty array of integer token ids"),
        ([[1, 2.0]], "input[0] must be a non-empty array of integer token ids"),
        ([[1], "text"], "input[1] must be a non-empty array"),
        ([1, "two"], "input must be a non-empty array of integer token ids"),
        ([0] * (token_ids.MAX_TOKENS_PER_INPUT + 1), "8192 token ids; at most 8191"),
        ([[1]] * 257, "at most 256 token arrays"),
        ([220, 220], "input decodes to empty or only whitespace"),  # "  "
    ],
)
def test_bad_token_ids_are_a_clear_422_naming_input(client, value, message):
    resp = client.post("/v1/embeddings", json={"input": value})
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"].startswith("input") and message in error["message"], error


def test_the_schema_documents_token_ids(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["EmbeddingsRequest"]
    kinds = {
        str(option.get("items", {}).get("type") or option.get("type"))
        for option in schema["properties"]["input"]["anyOf"]
    }
    assert {"integer", "string"} <= kinds
