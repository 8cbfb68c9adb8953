"""The openvino backend: the onnx backend's fp32 export, compiled by OpenVINO for this CPU.

OpenVINO reads the cached ONNX file directly (no conversion step, no second artifact). Its CPU
plugin runs the graph in bf16 where the CPU has bf16 matrix units (AMX or AVX512-BF16: Sapphire
Rapids and later), which on this project's Xeon was 2.3-3.0x torch fp32 at one thread with a mean
cosine of 0.99998 to it (docs/performance.md, "Backends"); on a CPU without them set
TOPICSERVE_OPENVINO_PRECISION=f32. The precision OpenVINO chose is in ``info()`` (/readyz).
Like the ONNX backends it is gated at load against the fp32 reference vectors.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from topicserve.embedding.base import Backend, BackendRejected
from topicserve.embedding.onnx import ensure_artifact
from topicserve.settings import get_settings

log = logging.getLogger(__name__)


class OpenVinoBackend(Backend):
    name = "openvino"
    # OpenVINO prepares each new input shape (shape inference, memory, kernels): a first-seen length
    # cost ~2x a seen one here. Lengths padded to a multiple of 8 leave 32 lengths of 256 to prepare:
    # single-text p50 15.2 vs 22.0 ms, batches of 32 within noise (215 vs 229 texts/s), one run, load 14-17.
    pad_to_multiple_of: int | None = 8
    # Compute batches of 8 (of a 32-text call, sorted by length): +8..11 % over one batch of 32 in two
    # interleaved runs (less padding per batch); onnx-int8 likewise (docs/performance.md, Round 3).
    batch_size = 8

    def __init__(
        self,
        model_dir: Path,
        *,
        threads: int = 0,
        precision: str | None = None,
        cache_dir: str | Path | None = None,
        reduce_range: bool | None = None,  # accepted for the shared onnx_options; unused (no quantization)
    ) -> None:
        from topicserve.embedding.packages import require

        ov = require("the openvino embedding backend", "openvino")
        from transformers import AutoTokenizer

        self.path, self.exported = ensure_artifact(model_dir, quantized=False, reduce_range=False, cache_dir=cache_dir)
        meta = json.loads((self.path.parent / "meta.json").read_text())
        self.dim, self.max_tokens, self.inputs = int(meta["dim"]), int(meta["max_tokens"]), meta["inputs"]
        if self.max_tokens % 8:  # never pad past the model's window
            self.pad_to_multiple_of = None
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        requested = precision or get_settings().openvino_precision
        config = {
            # One synchronous request at a time (the Embedder's lock): one stream, latency mode.
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": requested,
        }
        if threads > 0:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        try:
            self.compiled = core.compile_model(str(self.path), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses for a damaged or foreign file
            raise BackendRejected(
                f"embedding backend {self.name} refused: the cached ONNX model {self.path} does not load "
                f"({type(exc).__name__}). Delete it to export it again."
            ) from exc
        self.threads = int(self.compiled.get_property("INFERENCE_NUM_THREADS"))
        # The precision the compiled model reports (info() and /readyz show it).
        self.precision = self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        self._request = self.compiled.create_infer_request()
        self._output = self.compiled.output(0)
        log.info("openvino backend: %s on CPU, precision %s, %d threads", self.path.name, self.precision, self.threads)

    def compute(self, features: dict[str, np.ndarray]) -> np.ndarray:
        result = self._request.infer({name: features[name] for name in self.inputs})
        return np.asarray(result[self._output])

    def reference(self) -> np.ndarray:
        return np.load(self.path.parent / "reference.npy")
