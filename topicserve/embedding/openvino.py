"""The openvino backends: the onnx backend's fp32 export, compiled by OpenVINO for this CPU.

``openvino``: OpenVINO reads the cached ONNX file directly (no conversion step, no second
artifact). Its CPU plugin runs the graph in bf16 where the CPU has bf16 units (AMX or
AVX512-BF16), which on this project's Xeon was 2.3-3.0x torch fp32 at one thread with a mean
cosine of 0.99998 to it (docs/performance.md, "Backends"); on a CPU without them set
TOPICSERVE_OPENVINO_PRECISION=f32. The precision OpenVINO chose is in ``info()`` (/readyz).

``openvino-int8``: the same export quantized once by NNCF (``nncf.quantize``, its transformer
recipe: SmoothQuant per-channel activation scaling, int8 weights and activations for the MatMuls,
bias correction), calibrated on the package's own neutral sentences, saved as OpenVINO IR in the
artifact directory and compiled like ``openvino`` (the int8 MatMuls run on VNNI / AMX int8 units;
the rest in the precision hint). Plain per-tensor static int8 missed the gate here (0.82-0.92,
docs/performance.md); the transformer recipe is what makes calibrated int8 agree with fp32.

Both are gated at load against the fp32 reference vectors, like the ONNX backends.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from topicserve.embedding.base import GATE_SENTENCES, Backend, BackendRejected, Features
from topicserve.embedding.onnx import EXPORT_LOCK, ensure_artifact
from topicserve.settings import get_settings

log = logging.getLogger(__name__)

# The NNCF recipe's name, in the file name: a new recipe is a new file, never a silent reuse.
OV_INT8_NAME = "model-ov-int8-nncf-transformer-sq07-v1.xml"  # and its weights, the .bin of the same stem
DATA = Path(__file__).resolve().parents[1] / "data"
CALIBRATION_BATCH = 8


def calibration_texts() -> list[str]:
    """What NNCF calibrates activation ranges on: the package's own texts of every kind the service
    embeds, about no benchmark's labels: documents (the demo corpus and the neutral reference
    sentences; demo documents joined into window-long passages), query-like titles (the demo
    titles) and label texts (the default taxonomy's labels, descriptions and examples: one word up
    to a sentence). Short texts matter: calibrated on sentences and documents only, a 2-character
    text lost most of its agreement with fp32 (0.86; docs/performance.md, Session 8). The load
    gate's sentences are left out, so the gate judges texts calibration never saw."""
    import yaml

    from topicserve.topics.vectors import reference_sentences

    demo = [json.loads(line) for line in (DATA / "demo_corpus.jsonl").read_text().splitlines() if line.strip()]
    taxonomy = yaml.safe_load((DATA / "taxonomy.yaml").read_text())["topics"]
    labels = [
        text
        for t in taxonomy
        for text in (t["label"], t.get("description"), *t.get("descriptions", ()), *t.get("examples", ()))
        if text
    ]
    documents = [d["text"] for d in demo]
    # Window-long passages, as a long document's windows are (256 tokens here): ten demo documents each.
    passages = [" ".join(documents[i : i + 10]) for i in range(0, len(documents), 10)]
    texts = [*reference_sentences(), *documents, *passages, *(d["metadata"]["title"] for d in demo), *labels]
    gate = set(GATE_SENTENCES)
    return list(dict.fromkeys(t for t in texts if t not in gate))


def quantize_int8(fp32: Path, target: Path, tokenize) -> None:
    """Quantize the fp32 export with NNCF and save it as OpenVINO IR at ``target`` (+ its .bin).

    ``tokenize(texts)`` gives a batch's features as the backend feeds them (padding included)."""
    from topicserve.embedding.packages import require

    ov = require("quantizing the ONNX export to OpenVINO int8 (backend openvino-int8)", "openvino")
    nncf = require("quantizing the ONNX export to OpenVINO int8 (backend openvino-int8)", "nncf")
    model = ov.Core().read_model(str(fp32))
    names = [i.get_any_name() for i in model.inputs]
    texts = calibration_texts()
    batches = [tokenize(texts[i : i + CALIBRATION_BATCH]) for i in range(0, len(texts), CALIBRATION_BATCH)]
    feeds = [{name: batch[name] for name in names} for batch in batches]
    log.info("quantizing %s to OpenVINO int8 with NNCF %s (%d calibration texts)", fp32, nncf.__version__, len(texts))
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

    # SmoothQuant's alpha for MatMuls 0.7 (NNCF's default 0.95), chosen on AG News dev rows: mean
    # cosine to fp32 0.9978 at 0.7 and 0.8 against 0.9973 at 0.9 and 0.9908 at 0.5, and the best
    # worst text (0.988). The MIXED preset: symmetric weights, asymmetric activations.
    quantized = nncf.quantize(
        model, nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER, preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(feeds),
        advanced_parameters=AdvancedQuantizationParameters(smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=0.7)),
    )  # fmt: skip
    # Saved under temporary names in the same directory, then renamed, weights first: a reader that
    # finds the .xml finds its weights. Never saved over the files a compiled model maps (OpenVINO
    # memory-maps the .bin: writing it in place truncates the weights a running model reads).
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".ov-int8-"))
    try:
        ov.save_model(quantized, str(tmp / target.name), compress_to_fp16=False)
        os.replace(tmp / target.with_suffix(".bin").name, target.with_suffix(".bin"))
        os.replace(tmp / target.name, target)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()


def ensure_int8_artifact(fp32: Path, tokenize) -> tuple[Path, bool]:
    """The cached OpenVINO int8 model beside the fp32 export ``fp32`` (which ensure_artifact made
    sure of), quantized now if missing; and whether it was."""
    from filelock import FileLock

    target = fp32.parent / OV_INT8_NAME
    # The export's lock (ensure_artifact has released it): replicas starting together quantize once.
    with FileLock(str(fp32.parent / EXPORT_LOCK)):
        if target.exists() and target.with_suffix(".bin").exists():
            return target, False
        quantize_int8(fp32, target, tokenize)
    return target, True


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
    name = "openvino"  # "openvino-int8" when quantized
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
        reduce_range: bool | None = None,  # accepted for the shared onnx_options; onnxruntime's option, unused here
        streams: int | None = None,
        pinning: bool | None = None,
        quantized: bool = False,
    ) -> None:
        from topicserve.embedding.packages import require

        self.name = "openvino-int8" if quantized else "openvino"
        ov = require(f"the {self.name} embedding backend", "openvino")
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        fp32, self.exported = ensure_artifact(model_dir, quantized=False, reduce_range=False, cache_dir=cache_dir)
        meta = json.loads((fp32.parent / "meta.json").read_text())
        self.dim, self.max_tokens, self.inputs = int(meta["dim"]), int(meta["max_tokens"]), meta["inputs"]
        if self.max_tokens % 8:  # never pad past the model's window
            self.pad_to_multiple_of = None
        self.path = fp32
        if quantized:
            self.path, quantized_now = ensure_int8_artifact(fp32, self.tokenize)
            self.exported = self.exported or quantized_now
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
            kind = "OpenVINO int8 model" if quantized else "ONNX model"
            raise BackendRejected(
                f"embedding backend {self.name} refused: the cached {kind} {self.path} does not load "
                f"({type(exc).__name__}). Delete it to export it again."
            ) from exc
        self.threads = int(self.compiled.get_property("INFERENCE_NUM_THREADS"))
        # The precision the compiled model reports (info() and /readyz show it).
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT").to_string()
        # int8: the MatMuls in int8, the rest (softmax, layer norms, GELU) in the hint's precision.
        self.precision = f"int8+{hint}" if quantized else hint
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
