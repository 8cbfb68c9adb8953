"""ONNX fp32 / int8 backends of the packaged model: export once, agree with torch, refuse a bad artifact."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from topicserve.embedding import BackendRejected, Embedder, model_directory
from topicserve.embedding.onnx import model_hash
from topicserve.errors import ModelMismatch
from topicserve.settings import DEFAULT_MODEL
from topicserve.space import EmbeddingSpace

TEXTS = [
    "The central bank raised interest rates again.",
    "A late goal gave the home side the championship.",
    "The new phone has a faster chip and a better camera.",
    "Rebels and the army agreed to a ceasefire.",
    "An exhibition of Dutch still-life painting opens on Friday.",
    "Oil prices climbed to a three-month high.",
    "hi",
    "Engineers tested the rocket's second stage in the desert, firing it for nine minutes.",
]
HEAD = "The sculptor carved a marble statue of a saint for the cathedral, working the stone for months. " * 30
TAIL = "The photographer developed black and white film negatives in a darkroom and printed photographs. " * 12


# cache_dir, onnx_fp32, onnx_int8: tests/unit/embedding/conftest.py (one export for the package)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


def test_first_load_exports_and_a_second_load_reuses_the_artifact(cache_dir, onnx_fp32, onnx_int8):
    assert onnx_fp32.backend.exported and onnx_int8.backend.exported  # fresh cache: exported / quantized now
    path = onnx_int8.backend.path
    assert path.parent.parent == cache_dir and path.parent == onnx_fp32.backend.path.parent
    before = path.stat().st_mtime_ns
    again = Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", onnx_options={"cache_dir": cache_dir})
    assert not again.backend.exported
    assert again.backend.path == path and path.stat().st_mtime_ns == before
    assert np.allclose(again.embed(TEXTS), onnx_int8.embed(TEXTS), atol=1e-6)


def test_artifacts_are_keyed_by_the_model_files(onnx_fp32, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(model_directory(DEFAULT_MODEL), model_dir)
    key = model_hash(model_dir)
    assert onnx_fp32.backend.path.parent.name == key[:24]  # same files under another path: same key
    (model_dir / "README.md").write_text("changed")
    assert model_hash(model_dir) != key


@pytest.mark.parametrize("name, least", [("onnx", 0.9999), ("onnx-int8", 0.99)])
def test_onnx_backends_agree_with_torch(embedder, onnx_fp32, onnx_int8, name, least):
    model = onnx_fp32 if name == "onnx" else onnx_int8
    got = cosines(model.embed(TEXTS), embedder.embed(TEXTS))
    assert got.mean() >= least and got.min() >= 0.95
    assert model.agreement is not None and model.agreement >= 0.99  # the load gate passed with this number
    assert model.info()["backend"] == name and embedder.info()["backend"] == "torch"
    assert model.space.compatible(embedder.space)


def test_long_text_pooling_is_the_same_on_every_backend(embedder, onnx_int8):
    text = HEAD + TAIL
    windows = onnx_int8._windows(text)
    assert windows == embedder._windows(text) and len(windows) >= 3
    pooled = onnx_int8.embed([text])[0]
    window_vectors = onnx_int8.embed([w for w, _ in windows])
    weights = np.array([n for _, n in windows], dtype=np.float32)
    expected = weights @ window_vectors / weights.sum()
    assert np.allclose(pooled, expected / np.linalg.norm(expected), atol=1e-5)
    assert float(pooled @ embedder.embed([text])[0]) >= 0.99


def _scramble_int8_weights(path) -> None:
    """A mismatched quantization: every int8 weight tensor replaced by random values of its shape."""
    model = onnx.load(str(path))
    rng = np.random.default_rng(0)
    scrambled = 0
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.int8 and values.ndim == 2:
            init.CopyFrom(numpy_helper.from_array(rng.integers(-127, 127, values.shape, np.int8), init.name))
            scrambled += 1
    assert scrambled >= 6
    onnx.save(model, str(path))


def test_the_gate_refuses_a_broken_quantization_naming_both_numbers(cache_dir, onnx_int8, tmp_path):
    broken_cache = tmp_path / "cache"
    shutil.copytree(cache_dir, broken_cache)
    artifact = broken_cache / onnx_int8.backend.path.parent.name / onnx_int8.backend.path.name
    _scramble_int8_weights(artifact)
    with pytest.raises(
        BackendRejected, match=r"onnx-int8 refused: mean cosine .* is -?\d\.\d{4}, below the required 0\.9900"
    ):
        Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", onnx_options={"cache_dir": broken_cache})
    # a stricter gate than the real artifact reaches refuses it too
    with pytest.raises(BackendRejected, match=r"below the required 0\.9999"):
        Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", min_cosine=0.9999, onnx_options={"cache_dir": cache_dir})


def test_a_damaged_artifact_is_refused_with_its_path(cache_dir, onnx_int8, tmp_path):
    broken_cache = tmp_path / "cache"
    shutil.copytree(cache_dir, broken_cache)
    artifact = broken_cache / onnx_int8.backend.path.parent.name / onnx_int8.backend.path.name
    artifact.write_bytes(artifact.read_bytes()[:4096])
    with pytest.raises(BackendRejected, match="does not load"):
        Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", onnx_options={"cache_dir": broken_cache})


def test_unknown_backend_is_an_error():
    with pytest.raises(ValueError, match="unknown embedding backend 'tensorrt'"):
        Embedder(DEFAULT_MODEL, "cpu", backend="tensorrt")


def test_space_family_rules():
    torch_space = EmbeddingSpace(model="m", dim=384)
    int8 = EmbeddingSpace(model="m", dim=384, backend="onnx-int8", agreement=0.993)
    ungated = EmbeddingSpace(model="m", dim=384, backend="onnx-int8")
    other_dim = EmbeddingSpace(model="m", dim=768, backend="onnx-int8", agreement=0.999)
    torch_space.check_compatible(int8)  # fp32 and a gated int8 of one model: one space, both ways
    int8.check_compatible(torch_space)
    assert torch_space.space_family == int8.space_family and torch_space != int8
    for bad in (ungated, other_dim, EmbeddingSpace(model="other", dim=384)):
        with pytest.raises(ModelMismatch) as err:
            torch_space.check_compatible(bad)
        assert bad.backend in err.value.message and "torch backend" in err.value.message
        assert err.value.details["request_space"] == bad.model_dump()


def test_a_space_from_an_older_store_reads_as_torch():
    old = EmbeddingSpace.model_validate({"model": "m", "dim": 384, "normalized": True})  # manifest before backends
    assert old.backend == "torch" and old.gated
    old.check_compatible(EmbeddingSpace(model="m", dim=384, backend="onnx", agreement=1.0))
    info = {"model": "m", "dim": 384, "normalized": True, "backend": "onnx-int8", "agreement": 0.995, "device": "cpu"}
    assert EmbeddingSpace.from_info(info) == EmbeddingSpace(model="m", dim=384, backend="onnx-int8", agreement=0.995)
