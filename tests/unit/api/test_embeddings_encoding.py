"""/v1/embeddings vectors: base64 is the float32 bytes exactly; float JSON is those values to 8 decimals."""

from __future__ import annotations

import base64
import json

import numpy as np


def test_float_json_is_the_base64_vector_to_8_decimals(service):
    _, http = service
    texts = ["A marble bust of the cardinal, carved in Rome.", "ok", "stocks fell"]
    exact = http.post("/v1/embeddings", json={"input": texts, "encoding_format": "base64"}).json()["data"]
    floats = http.post("/v1/embeddings", json={"input": texts}).json()["data"]
    for b, f in zip(exact, floats, strict=True):
        vector = np.frombuffer(base64.b64decode(b["embedding"]), dtype="<f4")
        assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1) < 1e-5
        got = np.array(f["embedding"])
        assert np.abs(got - vector).max() <= 5.0001e-9
        assert np.array_equal(np.round(got, 8), got)  # no more than 8 decimals
        assert abs(float(got @ vector) - float(vector @ vector)) < 1e-7


def test_float_json_body_is_short_numbers(service):
    _, http = service
    body = http.post("/v1/embeddings", json={"input": "a fresco"}).text
    numbers = json.loads(body)["data"][0]["embedding"]
    assert len(body) < 384 * 13  # ~11 characters a component, not a float64's ~20
    assert len(numbers) == 384
