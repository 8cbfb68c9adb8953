"""OpenVINO compile configurations against torch fp32, in one process, interleaved (docs/performance.md,
"Session 6").

    python -m bench.openvino_configs [--threads 2] [--rounds 3] [--n 1024] [--procs 1]

Every configuration runs once per round (texts/s in calls of 32, single-text p50 over 60 texts); every
round is printed (min-max is the spread) with the 1-min load average. With ``--procs 2`` each
configuration runs in two processes at once (what two Embedder replicas on one node do); torch is
left out then. Texts: the bench's AG News sentences (bench/texts.py).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import latency_p50_ms, throughput
from bench.texts import short_texts

# name -> OpenVinoBackend options (streams, pinning); threads come from --threads.
CONFIGS = {
    "1 stream, pinned (session 5)": {"streams": 1, "pinning": True},
    "1 stream, not pinned": {"streams": 1, "pinning": False},
    "1 stream per thread, pinned": {"streams": 0, "pinning": True},
    "1 stream per thread, not pinned (shipped)": {"streams": 0, "pinning": False},
}


def torch_call(threads: int):
    import torch
    from sentence_transformers import SentenceTransformer

    from topicserve.embedding import model_directory
    from topicserve.settings import DEFAULT_MODEL

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(model_directory(DEFAULT_MODEL)), device="cpu")
    return lambda chunk: model.encode(chunk, batch_size=32, normalize_embeddings=True)


def openvino_call(threads: int, options: dict):
    from topicserve.embedding import Embedder
    from topicserve.settings import DEFAULT_MODEL

    return Embedder(DEFAULT_MODEL, "cpu", backend="openvino", threads=threads, onnx_options=options).embed


def measure(call, texts: list[str]) -> tuple[float, float]:
    return throughput(call, texts, 32), latency_p50_ms(call, texts, 60)


def _worker(threads: int, options: dict, texts: list[str], start, results) -> None:
    call = openvino_call(threads, options)
    call(texts[:64])
    start.wait()
    results.put(measure(call, texts))


def in_processes(procs: int, threads: int, options: dict, texts: list[str]) -> tuple[float, float]:
    """``procs`` processes measuring at once: summed texts/s, the worst p50."""
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(procs), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(threads, options, texts, start, results)) for _ in range(procs)]
    for w in workers:
        w.start()
    found = [results.get() for _ in workers]
    for w in workers:
        w.join()
    return sum(r[0] for r in found), max(r[1] for r in found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--procs", type=int, default=1, help="processes measuring each configuration at once")
    args = parser.parse_args(argv)
    texts = short_texts(args.n)
    configs = {k: o for k, o in CONFIGS.items() if args.threads > 1 or o["streams"] == 1}  # 1 thread: 1 stream
    if args.procs == 1:
        calls = {"torch fp32 (sentence-transformers encode)": torch_call(args.threads)}
        calls |= {name: openvino_call(args.threads, options) for name, options in configs.items()}
        runs = {name: (lambda call=call: measure(call, texts)) for name, call in calls.items()}
    else:
        runs = {name: (lambda o=o: in_processes(args.procs, args.threads, o, texts)) for name, o in configs.items()}
    print(json.dumps({"threads": args.threads, "procs": args.procs, "n": args.n}), flush=True)
    for r in range(args.rounds):
        row: dict = {"round": r, "load_1min": round(os.getloadavg()[0], 2)}
        for name, run in runs.items():
            rate, p50 = run()
            row[name] = {"texts_per_s": round(rate), "p50_ms": round(p50, 2)}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
