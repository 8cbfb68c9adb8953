"""The openvino backend: the onnx backend's fp32 export, compiled by OpenVINO for this CPU.

OpenVINO reads the cached ONNX file directly (no conversion step, no second artifact). Its CPU
plugin runs the graph in bf16 where the CPU has bf16 matrix units (AMX or AVX512-BF16: Sapphire
Rapids and later), which on this project's Xeon was 2.3-3.0x torch fp32 at one thread with a mean
cosine of 0.99998 to it (docs/performance.md, "Backends"); on a CPU without them set
TOPICSERVE_OPENVINO_PRECISION=f32. The precision OpenVINO chose is in ``info()`` (/readyz).
Like the ONNX backends it is gated at load against the fp32 reference vectors.
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from topicserve.embedding.base import Backend, BackendRejected, Features
from topicserve.embedding.onnx import ensure_artifact
from topicserve.settings import get_settings

log = logging.getLogger(__name__)


def compile_config(threads: int, precision: str, streams: int = 0, pinning: bool = False) -> dict:
    """OpenVINO CPU properties: ``threads`` in all (0: OpenVINO's default, the cores), ``streams``
    batches at once sharing them (0: one per thread; a 32-text call is several compute batches of 8)."""
    streams = streams or max(threads, 1)
    config: dict = {
        "INFERENCE_PRECISION_HINT": precision,
        "NUM_STREAMS": streams,
        # One stream: one synchronous request at a time (latency mode); more: compute_all's requests.
        "PERFORMANCE_HINT": "LATENCY" if streams == 1 else "THROUGHPUT",
        # Off by default: OpenVINO pins a process's inference threads to cores counted from core 0,
        # unaware of other processes, so two 1-thread Embedder replicas both ran on core 0 (taskset:
        # affinity "0" in both; the 2 x 1 service at 0.52-0.55x raw; docs/performance.md, Session 6).
        "ENABLE_CPU_PINNING": pinning,
    }
    if threads > 0:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


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
        streams: int | None = None,
        pinning: bool | None = None,
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
        settings = get_settings()
        requested = precision or settings.openvino_precision
        config = compile_config(
            threads, requested, settings.openvino_streams if streams is None else streams,
            settings.openvino_cpu_pinning if pinning is None else pinning,
        )  # fmt: skip
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
        self.streams = int(self.compiled.get_property("NUM_STREAMS"))
        # One infer request per stream: compute_all keeps every stream busy with a batch of its own.
        self._requests = [self.compiled.create_infer_request() for _ in range(self.streams)]
        self._output = self.compiled.output(0)
        log.info(
            "openvino backend: %s on CPU, precision %s, %d threads in %d stream(s)",
            self.path.name, self.precision, self.threads, self.streams,
        )  # fmt: skip

    def _feed(self, features: Features) -> dict[str, np.ndarray]:
        return {name: features[name] for name in self.inputs}

    def compute(self, features: Features) -> np.ndarray:
        result = self._requests[0].infer(self._feed(features))
        return np.asarray(result[self._output])

    def compute_all(self, batches: Iterable[Features]) -> Iterator[tuple[Features, np.ndarray]]:
        """Up to one batch in flight per stream (asynchronous requests, round robin), results in order."""
        if self.streams == 1:
            yield from super().compute_all(batches)
            return
        in_flight: collections.deque = collections.deque()  # (request, features), oldest first
        try:
            for i, features in enumerate(batches):
                request = self._requests[i % self.streams]
                if len(in_flight) == self.streams:  # the oldest holds this request: its result first
                    yield self._finish(*in_flight.popleft())
                request.start_async(self._feed(features))
                in_flight.append((request, features))
            while in_flight:
                yield self._finish(*in_flight.popleft())
        finally:  # a caller that stopped early (an error) leaves no request running into the next call
            for request, _ in in_flight:
                request.wait()

    def _finish(self, request, features: Features) -> tuple[Features, np.ndarray]:
        request.wait()
        # A copy: the request's output tensor is overwritten when the request runs its next batch.
        return features, np.array(request.get_tensor(self._output).data)

    def reference(self) -> np.ndarray:
        return np.load(self.path.parent / "reference.npy")
