"""int8 quality: agreement with fp32 and the AG News accuracy drop; recipes chosen on the dev rows only."""

from __future__ import annotations

import asyncio
import contextlib
import os

import numpy as np
import yaml

from bench import ag_news
from bench.load import throughput
from bench.texts import AG_NEWS, DEV_ROWS, ag_news_rows, short_texts
from topicserve.embedding import Embedder
from topicserve.settings import DEFAULT_MODEL, get_settings
from topicserve.taxonomy import Label


def agreement(model: Embedder, reference: np.ndarray, texts: list[str]) -> dict:
    cos = np.sum(model.embed(texts) * reference, axis=1)
    return {"mean_cosine": float(cos.mean()), "min_cosine": float(cos.min()), "n": len(texts)}


def choose_reduce_range(n: int, threads: int) -> list[dict]:
    """reduce_range False/True on the dev rows: agreement with fp32 and texts/s (pick the better)."""
    texts = short_texts(n, "dev")
    reference = Embedder(DEFAULT_MODEL, "cpu", backend="torch").embed(texts)
    rows = []
    for reduce_range in (False, True):
        model = Embedder(
            DEFAULT_MODEL, "cpu", backend="onnx-int8", threads=threads, min_cosine=0.0,
            onnx_options={"reduce_range": reduce_range},
        )  # fmt: skip
        rate = throughput(model.embed, texts, 32)
        rows.append({"reduce_range": reduce_range, "gate_cosine": model.agreement, "texts_per_s": rate}
                    | agreement(model, reference, texts))  # fmt: skip
    return rows


@contextlib.contextmanager
def backend_env(backend: str):
    """TOPICSERVE_EMBEDDING_BACKEND for code that reads the settings (bench/ag_news.py's in-process path)."""
    old = os.environ.get("TOPICSERVE_EMBEDDING_BACKEND")
    os.environ["TOPICSERVE_EMBEDDING_BACKEND"] = backend
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.pop("TOPICSERVE_EMBEDDING_BACKEND")
        if old is not None:
            os.environ["TOPICSERVE_EMBEDDING_BACKEND"] = old
        get_settings.cache_clear()


def quality_on_test_rows(n: int, others: tuple[str, ...] = ("openvino", "openvino-int8")) -> dict:
    """On the test rows (2000+): mean cosine int8 vs fp32 on ``n`` short texts; AG News accuracy of both.
    Each backend of ``others`` gets the same two numbers under its name (``result["openvino"]``)."""
    texts = short_texts(n, "test")
    reference = Embedder(DEFAULT_MODEL, "cpu", backend="torch").embed(texts)
    result = agreement(Embedder(DEFAULT_MODEL, "cpu", backend="onnx-int8"), reference, texts)
    rows = [{**r, "row": i} for i, r in enumerate(ag_news_rows())][DEV_ROWS:]  # "row": the vector cache's index
    labels = [Label.model_validate(t) for t in yaml.safe_load(ag_news.TAXONOMY.read_text())["topics"]]
    for backend in ("torch", "onnx-int8", *others):
        with backend_env(backend):
            (report,) = asyncio.run(ag_news.run_local(rows, labels, False, "none", AG_NEWS))
        result[f"accuracy_{backend}"] = report.get("top1_accuracy", report.get("accuracy"))
    result["accuracy_rows"] = len(rows)
    result["accuracy_drop_pt"] = 100 * (result["accuracy_torch"] - result["accuracy_onnx-int8"])
    for backend in others:
        result[backend] = agreement(Embedder(DEFAULT_MODEL, "cpu", backend=backend), reference, texts) | {
            "accuracy": result[f"accuracy_{backend}"],
            "accuracy_drop_pt": 100 * (result["accuracy_torch"] - result[f"accuracy_{backend}"]),
        }
    return result
