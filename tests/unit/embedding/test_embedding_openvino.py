"""The openvino backend of the packaged model: the onnx backend's export on OpenVINO, gated like it."""

from __future__ import annotations

import re
import shutil
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from topicserve.embedding import BackendRejected, Embedder
from topicserve.embedding.onnx import FP32_NAME
from topicserve.embedding.openvino import compile_config
from topicserve.settings import DEFAULT_MODEL
from topicserve.space import EmbeddingSpace

from .test_embedding_backends import HEAD, TAIL, TEXTS, cosines


@pytest.fixture(scope="module")
def loaded(cache_dir, onnx_fp32):
    """The backend loaded (and gated, and one batch run) under an audit hook recording network calls."""
    calls: list[str] = []
    recording = [True]

    def audit(event: str, args) -> None:
        if recording[0] and event in ("socket.connect", "socket.getaddrinfo"):
            calls.append(f"{event} {args!r}")

    sys.addaudithook(audit)  # a hook cannot be removed: it stops recording once the load is done
    try:
        model = Embedder(DEFAULT_MODEL, "cpu", backend="openvino", threads=1, onnx_options={"cache_dir": cache_dir})
        model.embed(TEXTS[:2])
    finally:
        recording[0] = False
    return model, calls


@pytest.fixture(scope="module")
def openvino(loaded):
    return loaded[0]


def test_openvino_reuses_the_onnx_export_and_passes_the_gate(openvino, onnx_fp32):
    assert not openvino.backend.exported  # the fp32 file the onnx backend exported: no second artifact
    assert openvino.backend.path == onnx_fp32.backend.path
    assert openvino.agreement is not None and openvino.agreement >= 0.99
    info = openvino.info()
    assert info["backend"] == "openvino" and info["threads"] == 1
    assert info["precision"] in ("bf16", "f32")  # what OpenVINO chose for this CPU


def test_openvino_agrees_with_torch_on_short_and_long_texts(embedder, openvino):
    got = cosines(openvino.embed(TEXTS), embedder.embed(TEXTS))
    assert got.mean() >= 0.99 and got.min() >= 0.98
    long_text = HEAD + TAIL  # several windows: the shared window pooling on top of OpenVINO's token vectors
    assert float(openvino.embed([long_text])[0] @ embedder.embed([long_text])[0]) >= 0.99
    batch = openvino.embed([*TEXTS, long_text])  # one padded batch gives each text its own vector
    assert np.allclose(batch[: len(TEXTS)], openvino.embed(TEXTS), atol=2e-3)
    assert openvino.backend.batch_size == 8  # compute batches of 8; one batch of 32 gives the same vectors
    assert np.allclose(openvino.embed(TEXTS * 4, batch_size=32), openvino.embed(TEXTS * 4), atol=2e-3)


def test_threads_become_streams_of_one_thread_none_pinned():
    assert compile_config(1, "bf16") == {
        "INFERENCE_PRECISION_HINT": "bf16", "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False, "INFERENCE_NUM_THREADS": 1,
    }  # fmt: skip
    two = compile_config(2, "bf16")
    assert (two["NUM_STREAMS"], two["PERFORMANCE_HINT"], two["INFERENCE_NUM_THREADS"]) == (2, "THROUGHPUT", 2)
    assert compile_config(2, "f32", streams=1, pinning=True) | {"INFERENCE_PRECISION_HINT": "bf16"} == {
        "INFERENCE_PRECISION_HINT": "bf16", "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": True, "INFERENCE_NUM_THREADS": 2,
    }  # fmt: skip
    assert "INFERENCE_NUM_THREADS" not in compile_config(0, "bf16")  # 0: OpenVINO's own count


@pytest.fixture(scope="module")
def two_streams(cache_dir, openvino):
    model = Embedder(DEFAULT_MODEL, "cpu", backend="openvino", threads=2, onnx_options={"cache_dir": cache_dir})
    assert (model.backend.streams, model.backend.threads) == (2, 2)
    assert not model.backend.compiled.get_property("ENABLE_CPU_PINNING")
    return model


def test_batches_on_two_streams_come_back_in_order_as_on_one(openvino, two_streams):
    texts = [f"{t} ({i})" for i, t in enumerate(TEXTS * 5)]  # several compute batches of 8, two in flight
    assert len(texts) > 3 * two_streams.backend.batch_size
    assert np.allclose(two_streams.embed(texts), openvino.embed(texts), atol=2e-3)
    assert np.allclose(two_streams.embed(texts[:1]), openvino.embed(texts[:1]), atol=2e-3)  # one batch


def test_a_caller_stopping_early_leaves_no_request_running(openvino, two_streams):
    backend = two_streams.backend
    # A short batch, then a long one (32 windows of 256 tokens) that is still running when the first is read.
    batches = [two_streams.tokenize(TEXTS[:2]), two_streams.tokenize([HEAD + TAIL] * 32), two_streams.tokenize(TEXTS)]
    results = backend.compute_all(iter(batches))
    features, first = next(results)
    assert features is batches[0] and first.shape[:2] == batches[0]["input_ids"].shape
    results.close()  # what an exception in the caller's pooling does: the long batch is waited for
    assert all(request.wait_for(0) for request in backend._requests)  # idle: the next call may start them
    assert np.allclose(two_streams.embed(TEXTS), openvino.embed(TEXTS), atol=2e-3)


def test_the_f32_precision_matches_the_onnx_backend(cache_dir, onnx_fp32):
    f32 = Embedder(DEFAULT_MODEL, "cpu", backend="openvino", onnx_options={"cache_dir": cache_dir, "precision": "f32"})
    assert f32.backend.precision == "f32"
    assert cosines(f32.embed(TEXTS), onnx_fp32.embed(TEXTS)).min() >= 0.9999


def test_an_openvino_space_is_one_space_with_torch_and_int8(embedder, openvino):
    space = openvino.space
    assert space.backend == "openvino" and space.agreement == openvino.agreement
    for other in (
        embedder.space,
        EmbeddingSpace(model=DEFAULT_MODEL, dim=space.dim, backend="onnx-int8", agreement=0.99),
    ):
        space.check_compatible(other)
        other.check_compatible(space)
    assert not space.compatible(EmbeddingSpace(model=DEFAULT_MODEL, dim=space.dim, backend="openvino"))  # ungated


def _scramble_fp32_weights(path) -> None:
    """Weights from another model: every 2-D float weight replaced by random values of its scale."""
    model = onnx.load(str(path))
    rng = np.random.default_rng(0)
    scrambled = 0
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init)
        if values.dtype == np.float32 and values.ndim == 2 and min(values.shape) >= 384:
            noise = rng.normal(0.0, float(values.std()), values.shape).astype(np.float32)
            init.CopyFrom(numpy_helper.from_array(noise, init.name))
            scrambled += 1
    assert scrambled >= 36  # 6 layers x (q, k, v, attention out, ffn in, ffn out)
    onnx.save(model, str(path))


def _copy_cache(onnx_fp32, tmp_path):
    """A cache holding a copy of the fp32 artifact (what the openvino backend reads), and that file."""
    source = onnx_fp32.backend.path.parent
    broken = tmp_path / "cache"
    (broken / source.name).mkdir(parents=True)
    for name in (FP32_NAME, "reference.npy", "meta.json"):
        shutil.copy(source / name, broken / source.name / name)
    return broken, broken / source.name / FP32_NAME


def test_the_gate_refuses_vectors_from_another_space_naming_both_numbers(onnx_fp32, tmp_path):
    broken, artifact = _copy_cache(onnx_fp32, tmp_path)
    _scramble_fp32_weights(artifact)
    with pytest.raises(
        BackendRejected, match=r"openvino refused: mean cosine .* is -?\d\.\d{4}, below the required 0\.9900"
    ):
        Embedder(DEFAULT_MODEL, "cpu", backend="openvino", onnx_options={"cache_dir": broken})


def test_a_damaged_artifact_is_refused_with_its_path(onnx_fp32, tmp_path):
    broken, artifact = _copy_cache(onnx_fp32, tmp_path)
    artifact.write_bytes(artifact.read_bytes()[:4096])
    with pytest.raises(
        BackendRejected, match=f"openvino refused: the cached ONNX model {re.escape(str(artifact))} does not load"
    ):
        Embedder(DEFAULT_MODEL, "cpu", backend="openvino", onnx_options={"cache_dir": broken})


def test_loading_the_openvino_backend_opens_no_connection(loaded):
    assert loaded[1] == []
