"""One benchmark command: every peer back to back on the same texts and model files; ratios are the headline.

    python -m bench [--n 2048] [--runs 2] [--parts raw,infinity,service,quality] [--url URL]
    make bench

Peers (each run, in this order, on the same AG News texts cut to one sentence):
  raw      in-process sentence-transformers encode (torch fp32, batch 32; all cores and 1 thread) and
           topicserve's Embedder on onnx, onnx-int8, openvino and openvino-int8;
  infinity infinity-emb 0.0.78 (torch engine, batch 64) in build/venv-infinity on a loopback port;
  service  POST /v1/embeddings of topicserve on local Ray (32 texts a request, 4 clients), one
           deployment per Embedder configuration (backend, replicas x threads), started under the
           Ray lock with `python -m topicserve up --no-demo` and stopped; or the service at --url;
  coldstart `serve deploy` of the app's zip on a fresh local Ray -> /readyz 200, per phase, with the
           runtime venv (build/venv-runtime, requirements.lock only) when it is built;
  quality  (once) int8 vs fp32: reduce_range chosen on the dev rows, then mean cosine on 1,000 test
           texts and the AG News zero-shot accuracy drop on rows 2000+;
  footprint (once) runtime venv size, the CPU image's layers (estimated), `make test` time.
Writes bench/results/bench-<time>.{md,json} and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The bench's clusters are its own, on loopback, for minutes: no Ray token auth, which `ray start`
# switches on by itself whenever a token file happens to exist (~/.ray/auth_token, left by any
# local `ray.init()` on this shared machine) and which the bench's HTTP probes do not send.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from bench import coldstart, embeddings, footprint, headline, quality, report
from bench import infinity as infinity_peer
from bench.load import http_embedder, ingest, latency_p50_ms, throughput
from bench.service import ServiceConfig, deploy, ray_lock
from bench.texts import short_texts
from topicserve.embedding import model_directory
from topicserve.settings import DEFAULT_MODEL

CORES = os.cpu_count() or 1
# Embedder sizes on the service, BACKEND:REPLICASxTHREADS[:wMS][:bN][:iN][:cN][:sN][:pin][:px|:ha|:tp|...]
# (wMS: batch wait, bN: max_batch_size, iN: TOPICSERVE_INGRESS_EMBED_MAX_TEXTS, i0 = no ingress copy, cN:
# TOPICSERVE_INGRESS_EMBED_THREADS, sN: TOPICSERVE_OPENVINO_STREAMS, pin: TOPICSERVE_OPENVINO_CPU_PINNING=1;
# the rest: request-path modes, bench.service.RAY_MODES): as serve_config.yaml ships it (1 replica, num_cpus
# 1 -> 1 thread), threads = cores, replicas x 1 thread = cores (what `make run` starts); that size without the Ingress's
# model copy (i0) and on Serve's Python proxy (px: the request path before HAProxy became the default);
# int8 at the same size, on HAProxy and on the proxy; openvino; openvino-int8.
DEFAULT_CONFIGS = (
    f"torch:1x1,torch:1x{CORES},torch:{CORES}x1,torch:{CORES}x1:i0,torch:{CORES}x1:px,"
    f"onnx-int8:{CORES}x1,onnx-int8:{CORES}x1:px,openvino:{CORES}x1,openvino-int8:{CORES}x1"
)


def parse_configs(spec: str) -> list[ServiceConfig]:
    configs = []
    for item in spec.split(","):
        backend, size, *flags = item.split(":")
        replicas, threads = (int(x) for x in size.split("x"))
        number = {f[0]: f[1:] for f in flags if f[:1] in "wbisc" and f[1:].replace(".", "").isdigit()}
        wait = float(number["w"]) if "w" in number else None  # w0: batch wait 0 ms
        batch = int(number["b"]) if "b" in number else None  # b16: max_batch_size 16
        copy = int(number["i"]) if "i" in number else None  # i0: no ingress copy, i4: ≤ 4 texts on it
        streams = int(number["s"]) if "s" in number else None  # s1: openvino in one stream (session 5)
        copy_threads = int(number["c"]) if "c" in number else None  # c2: the Ingress's model copy on 2 threads
        pinned = "pin" in flags  # pin: openvino's CPU pinning on (session 5)
        modes = [f for f in flags if f[:1] not in "wbisc" and f != "pin"]  # px, ha, tp, ...: bench.service.RAY_MODES
        # Ray's num_cpus is a reservation, not a limit: 1 for one replica, shared out for several,
        # so that the other deployments (0.75 CPU together) still fit on a small machine.
        configs.append(ServiceConfig(backend=backend, replicas=replicas, threads=threads,
                                     num_cpus=1.0 if replicas == 1 else round(1.0 / replicas, 2),
                                     batch_wait_ms=wait, max_batch=batch, ingress_embed=copy,
                                     ingress_threads=copy_threads,
                                     openvino_streams=streams, openvino_pinned=pinned,
                                     modes=modes))  # fmt: skip
    return configs


def raw_rows(texts: list[str], batch: int) -> list[dict]:
    rows = [embeddings.sentence_transformers_row(texts, batch, CORES)]
    rows.append(embeddings.sentence_transformers_row(texts, batch, 1))
    embeddings.set_torch_threads(CORES)
    for backend, threads in embeddings.backend_peers(CORES):
        rows.append(embeddings.backend_row(backend, texts, batch, threads))
    return rows


ENCODINGS = ("float", "base64")  # JSON numbers, and float32 bytes in base64 (the openai client's default)


def http_rows(peer: str, url: str, texts: list[str], args, model: str | None = None, **extra) -> list[dict]:
    """One row per vector encoding: throughput (``args.batch`` texts a request, ``args.concurrency`` in
    flight) and the single-text p50."""
    rows = []
    for encoding in ENCODINGS:
        call = http_embedder(url, model, encoding)
        rows.append({
            "peer": peer + ("" if encoding == "float" else ", base64"),
            "kind": "http",
            "encoding": encoding,
            "texts_per_s": throughput(call, texts, args.batch, args.concurrency),
            "p50_ms": latency_p50_ms(call, texts),
            **extra,
        })  # fmt: skip
    return rows


def healthz_p50_ms(base: str, n: int = 200) -> float:
    """GET /healthz: the proxy and the ingress only (no Embedder hop, no model): the path's floor."""
    session = requests.Session()
    return latency_p50_ms(lambda _: session.get(f"{base}/healthz", timeout=30).raise_for_status(), ["x"], n)


def infinity_rows(texts: list[str], args) -> list[dict]:
    with infinity_peer.serve(model_directory(DEFAULT_MODEL), args.infinity_port, batch_size=64) as url:
        peer = f"Infinity {infinity_peer.version()} /embeddings (torch engine, batch 64)"
        return http_rows(peer, f"{url}/embeddings", texts, args, model="bench", backend="torch")


def service_rows(texts: list[str], args) -> list[dict]:
    if args.url:
        return http_rows(f"service at {args.url}", f"{args.url}/v1/embeddings", texts, args)
    rows = []
    for i, cfg in enumerate(parse_configs(args.configs)):
        try:
            url = deploy(cfg, args.port)
        except (RuntimeError, subprocess.CalledProcessError) as exc:  # one size failing keeps the others
            print(f"skipped {cfg.label()}: {exc}", flush=True)
            continue
        found = http_rows(f"service /v1/embeddings: {cfg.label()}", f"{url}/v1/embeddings", texts, args)
        found[0]["healthz_p50_ms"] = healthz_p50_ms(url)
        found[0]["ingress_copy"] = requests.get(f"{url}/readyz", timeout=30).json()["embedder"].get("ingress_copy")
        if i == 0 and args.ingest_n:  # ingest once per run, on the first configuration
            found[0]["ingest"] = ingest(url, texts[: args.ingest_n])
        rows += [row | cfg.model_dump() for row in found]
    return rows


def coldstart_row() -> dict:
    """One cold deploy; with the runtime venv's Ray and Python when that venv is built (the image's env)."""
    venv = footprint.VENV / "bin" / "python"
    python = venv if footprint.STAMP.exists() and footprint.STAMP.read_text().strip() == footprint.lock_sha() else None
    try:
        return coldstart.measure(python=python)
    except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as exc:
        print(f"cold start failed: {exc}", flush=True)
        return {"error": str(exc)[:500]}


def one_run(texts: list[str], args, parts: set[str]) -> dict:
    """Every peer of one run back to back; under the Ray lock when it deploys the service, so that the
    e2e tests of others do not run in the middle of it (and a cluster of ours never outlives it)."""
    deploys = ("service" in parts or "coldstart" in parts) and not args.url
    with ray_lock() if deploys else contextlib.nullcontext():
        run = {"loadavg": os.getloadavg(), "rows": []}
        print(f"run: load average {run['loadavg']}", flush=True)
        if "coldstart" in parts and not args.url:  # first: nothing else of this run is running
            run["coldstart"] = coldstart_row()
        if "raw" in parts:
            run["rows"] += raw_rows(texts, args.batch)
        if "infinity" in parts:
            run["rows"] += infinity_rows(texts, args)
        if "service" in parts:
            run["rows"] += service_rows(texts, args)
        run["loadavg_after"] = os.getloadavg()
    return headline.annotate(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2048, help="texts per throughput measurement")
    parser.add_argument("--runs", type=int, default=2, help="repeat every peer this often (the spread)")
    parser.add_argument("--parts", default="footprint,raw,infinity,coldstart,service,quality")
    parser.add_argument("--batch", type=int, default=32, help="texts per request / per encode call")
    parser.add_argument("--concurrency", type=int, default=4, help="HTTP requests in flight")
    parser.add_argument("--url", help="measure this running service instead of deploying one")
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help="service Embedder sizes, BACKEND:RxT,...")
    # Not 8000: another cluster on this machine (a helper's, a test's) may serve there.
    parser.add_argument("--port", type=int, default=18123, help="HTTP port of the bench's service")
    parser.add_argument("--infinity-port", type=int, default=7997)
    parser.add_argument("--quality-n", type=int, default=1000)
    parser.add_argument("--ingest-n", type=int, default=512, help="documents POSTed (batches of 64); 0: none")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results")))
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    texts = short_texts(args.n)
    result = {"machine": report.machine(), "n": args.n, "args": vars(args), "runs": []}
    if "footprint" in parts:  # first: it may build the runtime venv the cold start then runs on
        result["footprint"] = footprint.measure()
    result["network_calls_during_load"] = coldstart.network_calls_during_load(DEFAULT_MODEL)
    for _ in range(args.runs):
        result["runs"].append(one_run(texts, args, parts))
    result["headline"] = headline.lines(result)
    report.write(result, Path(args.out))  # the runs are kept even if the quality part fails
    if "quality" in parts:
        result["quality"] = {"dev": quality.choose_reduce_range(args.quality_n, CORES),
                             "test": quality.quality_on_test_rows(args.quality_n)}  # fmt: skip
    result["headline"] = headline.lines(result)
    path = report.write(result, Path(args.out))
    print(path.read_text())
    print(f"written: {path} (and .json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
