"""CPU compute recipes against torch fp32, in one process, interleaved (docs/performance.md, "Round 3").

    python -m bench.recipes [--threads 1] [--rounds 3] [--n 256]

Every recipe runs once per round (batch 32 texts/s, single-text p50), the best round is kept (on a
shared machine the least disturbed one); gate = mean cosine to the fp32 reference on the load
gate's sentences, dev_cos = mean cosine to torch fp32 on the texts. Texts: AG News dev rows only
(recipes are chosen there). Static int8 variants (onnxruntime ``quantize_static``, QDQ, calibrated
on dev texts) are written once under build/recipes/ (gitignored).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import latency_p50_ms, throughput
from bench.texts import ag_news_rows, short_texts
from topicserve.embedding import GATE_SENTENCES, Embedder, model_directory
from topicserve.embedding.base import Backend
from topicserve.embedding.onnx import FP32_NAME, int8_name
from topicserve.settings import DEFAULT_MODEL

OUT = Path(__file__).resolve().parents[1] / "build" / "recipes"


def quantize_static_variants(fp32: Path, calib: Embedder) -> dict[str, Path]:
    """QDQ int8 (per-channel s8 weights, MinMax): s8 or u8 activations, and s8 without the FFN-down MatMuls."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    texts = short_texts(256, "dev") + [r["text"] for r in ag_news_rows()[1000:1064]]
    batches = [calib.tokenize(texts[i : i + 32]) for i in range(0, len(texts), 32)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(batches)

        def get_next(self):
            batch = next(self.left, None)
            return None if batch is None else {k: batch[k] for k in calib.backend.inputs}

    graph = onnx.load(str(fp32), load_external_data=False).graph
    ffn_down = [n.name for n in graph.node if n.op_type == "MatMul" and n.name.endswith("/output/dense/MatMul")]
    ffn_down = [n for n in ffn_down if "/attention/" not in n]
    variants = {
        "qdq-s8": (QuantType.QInt8, []),
        "qdq-u8": (QuantType.QUInt8, []),
        "qdq-s8-fp32-ffn-down": (QuantType.QInt8, ffn_down),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (activations, exclude) in variants.items():
        paths[name] = OUT / f"{name}.onnx"
        if not paths[name].exists():
            quantize_static(
                str(fp32), str(paths[name]), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                nodes_to_exclude=exclude, per_channel=True, activation_type=activations, weight_type=QuantType.QInt8,
                extra_options={"MatMulConstBOnly": True, "ActivationSymmetric": activations == QuantType.QInt8},
            )  # fmt: skip
    return paths


class Compiled(Backend):
    """An ONNX file on OpenVINO (precision hint) or onnxruntime, behind an Embedder's tokenizer."""

    def __init__(
        self, like: Backend, path: Path, threads: int, engine: str, precision: str = "f32", pad: int | None = None
    ):
        self.tokenizer, self.inputs, self.pad_to_multiple_of = like.tokenizer, like.inputs, pad  # type: ignore[attr-defined]
        if engine == "openvino":
            import openvino as ov

            cfg = {
                "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": precision,
                "PERFORMANCE_HINT": "LATENCY",
                "NUM_STREAMS": 1,
            }
            compiled = ov.Core().compile_model(str(path), "CPU", cfg)
            request = compiled.create_infer_request()
            self.run = lambda feed: request.infer(feed)[compiled.output(0)]
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self.run = lambda feed: session.run(["token_embeddings"], feed)[0]

    def compute(self, features: dict[str, np.ndarray]) -> np.ndarray:
        return self.run({n: features[n] for n in self.inputs})


def recipes(threads: int) -> dict:
    """name -> embed(texts) callable, torch fp32 (sentence-transformers encode, the bench's reference) first."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    st = SentenceTransformer(str(model_directory(DEFAULT_MODEL)), device="cpu")
    int8 = Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8", threads=threads)
    openvino = Embedder(DEFAULT_MODEL, "cpu", backend="openvino", threads=threads)
    art = int8.backend.path.parent  # type: ignore[attr-defined]
    static = quantize_static_variants(art / FP32_NAME, int8)

    def on(path: Path, engine: str, precision: str = "f32", pad: int | None = None):
        model = copy.copy(int8)
        model.backend = Compiled(int8.backend, path, threads, engine, precision, pad)
        return model.embed

    return {
        "torch fp32 (sentence-transformers encode)": lambda c: st.encode(c, batch_size=32, normalize_embeddings=True),
        "ORT int8 dynamic, MatMul per-channel (onnx-int8)": int8.embed,
        "ORT static QDQ s8/s8 MinMax": on(static["qdq-s8"], "ort"),
        "ORT static QDQ u8/s8 MinMax": on(static["qdq-u8"], "ort"),
        "OpenVINO fp32 export, f32": on(art / FP32_NAME, "openvino"),
        "OpenVINO fp32 export, bf16, no padding": on(art / FP32_NAME, "openvino", "bf16"),
        "OpenVINO fp32 export, bf16, pad to 8 (openvino backend)": openvino.embed,
        "OpenVINO on the onnx-int8 file, f32": on(art / int8_name(False), "openvino", pad=8),
        "OpenVINO static QDQ s8/s8 MinMax, f32": on(static["qdq-s8"], "openvino", pad=8),
        "OpenVINO static QDQ s8/s8, FFN-down fp32, f32": on(static["qdq-s8-fp32-ffn-down"], "openvino", pad=8),
        "OpenVINO static QDQ s8/s8, FFN-down fp32, bf16": on(static["qdq-s8-fp32-ffn-down"], "openvino", "bf16", 8),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=256)
    args = parser.parse_args(argv)
    texts = short_texts(args.n, "dev")
    calls = recipes(args.threads)
    reference_name = next(iter(calls))
    gate_ref = Embedder(DEFAULT_MODEL, "cpu", backend="onnx").backend.reference()
    torch_vectors = calls[reference_name](texts)
    rows = {}
    for name, call in calls.items():
        rows[name] = {"texts_per_s": 0.0, "p50_ms": float("inf"),
                      "gate": float(np.mean(np.sum(call(GATE_SENTENCES) * gate_ref, axis=1))),
                      "dev_cos": float(np.mean(np.sum(call(texts) * torch_vectors, axis=1)))}  # fmt: skip
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, call in calls.items():
            rows[name]["texts_per_s"] = max(rows[name]["texts_per_s"], throughput(call, texts, 32))
            rows[name]["p50_ms"] = min(rows[name]["p50_ms"], latency_p50_ms(call, texts, 60))
        loads.append(os.getloadavg()[0])
    print(json.dumps({"threads": args.threads, "rounds": args.rounds, "n": args.n, "load_1min": loads}))
    for name, row in rows.items():
        row["x_torch"] = row["texts_per_s"] / rows[reference_name]["texts_per_s"]
        print(json.dumps({"recipe": name} | {k: round(v, 5) for k, v in row.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
