"""Where the service's CPU goes: an idle cluster's own use, and py-spy profiles of the replicas.

    PY_SPY=/path/to/py-spy .venv/bin/python bench/profile_path.py --config torch:2x1

py-spy is not in the project's locks: install it in a venv of its own (`python -m venv X &&
X/bin/pip install py-spy`) and point PY_SPY at it. Under the Ray lock (bench/service.py) the app
is deployed at the given size, then:
1. idle: CPU seconds per second of every Ray process over 10 s with no request (what the cluster
   costs the cores by itself);
2. single: 200 sequential single-text POST /v1/embeddings while py-spy samples the Ingress;
3. batch: 32 texts a request, 4 clients, while py-spy samples one Embedder replica and the proxy.
Each profile prints its hottest frames (own samples, as a share); raw stacks go to build/bench/.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # the bench's own loopback cluster (bench/__main__.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.__main__ import parse_configs
from bench.load import http_embedder, latency_p50_ms, throughput
from bench.service import BUILD, deploy, ray_lock
from bench.texts import short_texts

TICK = os.sysconf("SC_CLK_TCK")


def ray_processes() -> dict[int, str]:
    """pid -> a short name (ServeReplica:app:Deployment, ProxyActor, raylet, gcs_server, ...)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "ray::" in args or "raylet" in args or "gcs_server" in args or "dashboard" in args:
            found[int(pid)] = args.split()[0].replace("ray::", "")[:60]
    return found


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def idle_cpu(seconds: float = 10) -> dict[str, float]:
    procs = ray_processes()
    before = {pid: cpu_seconds(pid) for pid in procs}
    time.sleep(seconds)
    use: collections.Counter[str] = collections.Counter()
    for pid, name in procs.items():
        use[name] += (cpu_seconds(pid) - before[pid]) / seconds
    return {name: round(v, 3) for name, v in use.most_common() if v > 0.005}


def profile(pid: int, name: str, work, seconds: float = 20) -> list[tuple[str, float]]:
    """py-spy record (raw collapsed stacks) of ``pid`` while ``work()`` runs; the hottest own frames."""
    out = BUILD / f"pyspy-{name}.txt"
    cmd = [os.environ["PY_SPY"], "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-r", "200", "-d", str(seconds)]
    spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    spy.wait()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        own[stack.split(";")[-1]] += int(count)
    return [(frame, round(n / total, 3)) for frame, n in own.most_common(15)] if total else []


def pid_of(procs: dict[int, str], part: str) -> int:
    return next(pid for pid, name in procs.items() if part in name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="torch:2x1")
    parser.add_argument("--port", type=int, default=18124)
    args = parser.parse_args()
    texts = short_texts(1024)
    cfg = parse_configs(args.config)[0]
    with ray_lock():
        url = deploy(cfg, args.port)
        time.sleep(5)
        print(f"load average {os.getloadavg()}; idle cluster, CPU s/s:", idle_cpu(), flush=True)
        procs = ray_processes()
        call = http_embedder(f"{url}/v1/embeddings", encoding="base64")
        ingress = pid_of(procs, "Ingress")
        single = profile(ingress, "ingress-single", lambda: print("single p50", latency_p50_ms(call, texts)), 12)
        print("Ingress, single texts:", *single, sep="\n  ", flush=True)
        embedder = pid_of(procs, "Embedder")
        batch = profile(embedder, "embedder-batch", lambda: print("texts/s", throughput(call, texts, 32, 4)), 8)
        print("Embedder, 32-text requests x 4 clients:", *batch, sep="\n  ", flush=True)
        proxy = pid_of(procs, "ProxyActor")
        hot = profile(proxy, "proxy-batch", lambda: throughput(call, texts, 32, 4), 8)
        print("proxy, same load:", *hot, sep="\n  ", flush=True)


if __name__ == "__main__":
    main()
