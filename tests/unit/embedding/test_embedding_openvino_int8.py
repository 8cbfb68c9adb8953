"""The openvino-int8 backend of the packaged model: the onnx backend's export quantized once by NNCF,
cached beside it as OpenVINO IR, compiled by OpenVINO and gated against fp32 like every backend."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import pytest

from topicserve.embedding import BackendRejected, Embedder
from topicserve.embedding.base import GATE_SENTENCES
from topicserve.embedding.onnx import FP32_NAME
from topicserve.embedding.openvino import OV_INT8_NAME, calibration_texts
from topicserve.embedding.packages import BackendUnavailable
from topicserve.settings import DEFAULT_MODEL

from .test_embedding_backends import HEAD, TAIL, TEXTS, cosines


@pytest.fixture(scope="module")
def int8(cache_dir, onnx_fp32):
    """The first openvino-int8 load in the package's cache: it quantizes the shared fp32 export."""
    return Embedder(DEFAULT_MODEL, "cpu", backend="openvino-int8", threads=1, onnx_options={"cache_dir": cache_dir})


def test_the_export_is_quantized_once_and_cached_beside_it(int8, cache_dir, onnx_fp32):
    assert int8.backend.exported  # quantized by this load (the fp32 export was already there)
    assert int8.backend.path == onnx_fp32.backend.path.parent / OV_INT8_NAME
    assert int8.backend.path.with_suffix(".bin").stat().st_size > 1_000_000
    # int8 weights: the IR's weights are about a quarter of the fp32 export's
    assert int8.backend.path.with_suffix(".bin").stat().st_size < onnx_fp32.backend.path.stat().st_size / 2
    assert not list(int8.backend.path.parent.glob(".ov-int8-*"))  # no temporary left behind
    again = Embedder(DEFAULT_MODEL, "cpu", backend="openvino-int8", threads=1, onnx_options={"cache_dir": cache_dir})
    assert not again.backend.exported and again.backend.path == int8.backend.path
    assert np.allclose(again.embed(TEXTS), int8.embed(TEXTS), atol=1e-5)  # the same file, the same vectors


def test_it_passes_the_gate_and_says_it_computes_in_int8(int8):
    assert int8.agreement is not None and int8.agreement >= 0.99
    info = int8.info()
    assert info["backend"] == "openvino-int8" and info["threads"] == 1
    assert info["precision"] in ("int8+bf16", "int8+f32")  # the MatMuls int8, the rest in OpenVINO's hint


def test_int8_agrees_with_torch_on_short_long_and_batched_texts(embedder, int8):
    got = cosines(int8.embed(TEXTS), embedder.embed(TEXTS))
    assert got.mean() >= 0.99 and got.min() >= 0.95
    long_text = HEAD + TAIL  # several windows pooled on top of the int8 token vectors
    assert float(int8.embed([long_text])[0] @ embedder.embed([long_text])[0]) >= 0.98
    batch = int8.embed([*TEXTS, long_text])
    assert np.allclose(batch[: len(TEXTS)], int8.embed(TEXTS), atol=5e-3)  # padding does not leak across texts


def test_an_int8_space_is_one_space_with_torch(embedder, int8):
    int8.space.check_compatible(embedder.space)
    embedder.space.check_compatible(int8.space)


def test_calibration_is_the_packages_own_texts_short_and_long_never_the_gates():
    texts = calibration_texts()
    assert len(texts) >= 150 and len(set(texts)) == len(texts)
    assert not set(texts) & set(GATE_SENTENCES)  # the gate judges texts calibration never saw
    assert min(len(t.split()) for t in texts) == 1  # label-like texts: one word
    assert max(len(t.split()) for t in texts) >= 30  # document-like texts


def _cache_with_fp32_only(onnx_fp32, tmp_path):
    source = onnx_fp32.backend.path.parent
    target = tmp_path / "cache" / source.name
    target.mkdir(parents=True)
    for name in (FP32_NAME, "reference.npy", "meta.json"):
        shutil.copy(source / name, target / name)
    return tmp_path / "cache", target


def test_without_nncf_a_missing_int8_model_is_refused_naming_the_package(onnx_fp32, tmp_path, monkeypatch):
    cache, artifact = _cache_with_fp32_only(onnx_fp32, tmp_path)
    monkeypatch.setitem(sys.modules, "nncf", None)  # every `import nncf` raises ImportError
    needs = r"OpenVINO int8 \(backend openvino-int8\) needs the Python package nncf"
    with pytest.raises(BackendUnavailable, match=needs):
        Embedder(DEFAULT_MODEL, "cpu", backend="openvino-int8", onnx_options={"cache_dir": cache})
    assert not (artifact / OV_INT8_NAME).exists()


def test_a_damaged_int8_model_is_refused_with_its_path(onnx_fp32, int8, tmp_path):
    cache, artifact = _cache_with_fp32_only(onnx_fp32, tmp_path)
    shutil.copy(int8.backend.path.with_suffix(".bin"), artifact / OV_INT8_NAME.replace(".xml", ".bin"))
    damaged = artifact / OV_INT8_NAME
    damaged.write_bytes(int8.backend.path.read_bytes()[:4096])  # an IR cut off mid-graph
    with pytest.raises(
        BackendRejected,
        match=f"openvino-int8 refused: the cached OpenVINO int8 model {re.escape(str(damaged))} does not load",
    ):
        Embedder(DEFAULT_MODEL, "cpu", backend="openvino-int8", onnx_options={"cache_dir": cache})
