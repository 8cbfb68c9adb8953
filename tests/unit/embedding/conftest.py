"""One ONNX export for the embedding tests: the fp32 artifact (and its reference vectors) is exported
once into a fresh cache and shared by the onnx, onnx-int8 and openvino tests (each export costs
tens of seconds on 2 cores)."""

from __future__ import annotations

import pytest

from topicserve.embedding import Embedder
from topicserve.settings import DEFAULT_MODEL


@pytest.fixture(scope="package")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="package")
def onnx_fp32(cache_dir):
    """The first load in a fresh cache: it exports (``backend.exported``), whichever test asks first."""
    return Embedder(DEFAULT_MODEL, "cpu", backend="onnx", onnx_options={"cache_dir": cache_dir})


@pytest.fixture(scope="package")
def onnx_int8(cache_dir, onnx_fp32):
    return Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", onnx_options={"cache_dir": cache_dir})
