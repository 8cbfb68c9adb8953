"""The onnx and onnx-int8 backends: the model's transformer exported once, run by onnxruntime.

The export (``torch.onnx.export``, TorchScript exporter, dynamic batch and sequence axes) and the
int8 quantization (``onnxruntime.quantization.quantize_dynamic``, per-channel int8 weights) run
once per model: the artifacts are cached in a directory keyed by a hash of the model's files,
together with the fp32 reference vectors of the load gate's sentences, so a later load needs
neither torch nor an export. A file lock keeps replicas that start together from exporting twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from topicserve.embedding.base import GATE_SENTENCES, Backend, BackendRejected, default_cache_dir
from topicserve.embedding.packages import unavailable
from topicserve.settings import get_settings

log = logging.getLogger(__name__)

OPSET = 17
FP32_NAME = "model-fp32.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
EXPORT_LOCK = ".export.lock"  # in the artifact directory: one export (or quantization) at a time


# Only the weight MatMuls are quantized (per output channel, int8); the token-embedding Gather stays
# fp32: on the dev rows of AG News that gave the higher agreement with fp32 at the same speed.
INT8_OPS = ["MatMul"]


def int8_name(reduce_range: bool) -> str:
    return f"model-int8-matmul-perchannel-rr{int(reduce_range)}.onnx"


def model_hash(model_dir: Path) -> str:
    """sha256 over every file of the model (relative path and bytes): the cache key."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        with path.open("rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()


def artifact_dir(model_dir: Path, cache_dir: str | Path | None = None) -> Path:
    root = Path(cache_dir or get_settings().onnx_cache_dir or default_cache_dir()).expanduser()
    return root / model_hash(model_dir)[:24]


def _atomic_write(target: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def export_fp32(model_dir: Path, out: Path) -> None:
    """Export the transformer to ONNX and store the fp32 reference vectors of the gate sentences."""
    try:  # the torch-free image has the artifact baked in and never exports: refused in one line if asked to
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise unavailable(f"exporting {model_dir} to ONNX (no artifact in {out})", exc.name or "torch", exc) from exc

    from topicserve.embedding.base import Embedder

    reference = Embedder(str(model_dir), "cpu", backend="torch")
    # Eager attention: the SDPA path traces the padding mask as a constant (wrong vectors for padded
    # batches); the same weights sentence-transformers loaded, from the same files.
    transformer = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    names = [n for n in INPUTS if n in reference.tokenize(["x"])]

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *inputs):
            return self.transformer(**dict(zip(names, inputs, strict=True))).last_hidden_state

    sample = reference.tokenize(["an example sentence", "another, longer example sentence for export"])
    args = tuple(torch.from_numpy(sample[n]) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"token_embeddings": {0: "batch", 1: "sequence"}}
    log.info("exporting %s to ONNX (opset %d) in %s", model_dir, OPSET, out)

    def write(tmp: Path) -> None:
        # The tracer warns about shape checks in transformers' mask code; for an encoder they are
        # constant (key length == mask length), and every load checks the result (the gate).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index", category=UserWarning)
            torch.onnx.export(
                TokenVectors(), args, str(tmp), input_names=names, output_names=["token_embeddings"],
                dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )  # fmt: skip

    _atomic_write(out / FP32_NAME, write)
    np.save(out / "reference.npy", reference.embed(GATE_SENTENCES))
    meta = {"dim": reference.dim, "max_tokens": reference.max_tokens, "inputs": names, "torch": torch.__version__}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))


def quantize_int8(out: Path, reduce_range: bool) -> None:
    try:  # onnxruntime.quantization imports onnx, which the torch-free image does not install
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise unavailable(f"quantizing {out / FP32_NAME} to int8", exc.name or "onnx", exc) from exc

    def write(tmp: Path) -> None:
        quantize_dynamic(
            out / FP32_NAME, tmp, op_types_to_quantize=INT8_OPS, per_channel=True, reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
        )  # fmt: skip

    _atomic_write(out / int8_name(reduce_range), write)


def ensure_artifact(model_dir: Path, *, quantized: bool, reduce_range: bool, cache_dir=None) -> tuple[Path, bool]:
    """The cached ONNX file for this model and recipe, exported now if missing; and whether it was."""
    from filelock import FileLock

    out = artifact_dir(model_dir, cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / (int8_name(reduce_range) if quantized else FP32_NAME)
    exported = False
    with FileLock(str(out / EXPORT_LOCK)):
        # The target with its reference and meta is enough: the torch-free image ships no fp32 file.
        if all((out / name).exists() for name in (target.name, "reference.npy", "meta.json")):
            return target, False
        if not all((out / name).exists() for name in (FP32_NAME, "reference.npy", "meta.json")):
            export_fp32(model_dir, out)
            exported = True
        if not target.exists():
            quantize_int8(out, reduce_range)
            exported = True
    return target, exported


class OnnxBackend(Backend):
    def __init__(
        self,
        model_dir: Path,
        *,
        quantized: bool,
        threads: int = 0,
        reduce_range: bool | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise unavailable(
                f"embedding backend {'onnx-int8' if quantized else 'onnx'}", exc.name or "onnxruntime", exc
            ) from exc

        settings = get_settings()
        self.name = "onnx-int8" if quantized else "onnx"
        self.precision = "int8" if quantized else "f32"
        self.batch_size = 8 if quantized else 32  # int8: batches of 8 beat 32 (docs/performance.md, Round 3)
        self.reduce_range = settings.onnx_reduce_range if reduce_range is None else reduce_range
        self.path, self.exported = ensure_artifact(
            model_dir, quantized=quantized, reduce_range=self.reduce_range, cache_dir=cache_dir
        )
        meta = json.loads((self.path.parent / "meta.json").read_text())
        self.dim, self.max_tokens, self.inputs = int(meta["dim"]), int(meta["max_tokens"]), meta["inputs"]
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads = threads  # 0: onnxruntime's default (the physical cores)
        options.inter_op_num_threads = 1
        # No busy-waiting between ops: on a shared 2-core box, spinning intra-op threads took the CPU
        # from each other and from the HTTP path (int8, 2 threads: ~200-280 texts/s spinning, ~520 not).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a damaged file
            raise BackendRejected(
                f"embedding backend {self.name} refused: the cached ONNX model {self.path} does not load "
                f"({type(exc).__name__}). Delete it to export it again."
            ) from exc

    def compute(self, features: dict[str, np.ndarray]) -> np.ndarray:
        feed = {name: features[name] for name in self.inputs}
        return self.session.run(["token_embeddings"], feed)[0]

    def reference(self) -> np.ndarray:
        return np.load(self.path.parent / "reference.npy")
