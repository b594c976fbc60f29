"""Serving against offline judging, side by side in one run: does the server lose throughput
or latency to the engine's own batching?

Three phases, each in its own process so only one vLLM engine holds memory at a time:

1. offline: ``RewardModel.load(engine="vllm")``; a lone ``rm.compare`` (median of 5 calls,
   after a warm-up) and ONE ``compare_batch`` over all the requests (one engine pass).
2. served: ``grm serve`` (vLLM ``AsyncLLM``, continuous batching) on 127.0.0.1; a lone
   request over HTTP (median of 5, after a warm-up), then the same requests from
   ``--clients`` concurrent clients.
3. the report: requests per second of both, their ratio (goal >= 0.9), p50/p99 latency of
   the served requests, the lone-request ratio served / direct (goal <= 1.2), status codes.

The requests are two-digit additions with one right and one wrong answer, k chains each
with at most ``--max-tokens`` tokens (short, so the run fits a CPU in minutes).

    flock /tmp/grm-heavy.lock nice -n 10 timeout 1200 .venv/bin/python scripts/bench_serve.py \\
        --requests 500 --clients 32 --k 4 --max-tokens 4

A SIGTERM (``timeout``) ends both phases cleanly: the offline engine and the server process
are shut down rather than left running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any

import httpx


def requests_for(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x, y = rng.randint(10, 99), rng.randint(10, 99)
        right, wrong = str(x + y), str(x + y + rng.choice([-2, -1, 1, 2]))
        a, b = (right, wrong) if i % 2 else (wrong, right)
        out.append({"prompt": f"What is {x} + {y}?", "responses": [a, b]})
    return out


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def offline(args: argparse.Namespace) -> dict[str, Any]:
    from grm import RewardModel

    reqs = requests_for(args.requests, args.seed)
    t0 = time.perf_counter()
    rm = RewardModel.load(engine="vllm", max_tokens=args.max_tokens)
    load_s = time.perf_counter() - t0
    print(f"offline: loaded in {load_s:.0f} s", file=sys.stderr, flush=True)
    try:
        first = reqs[0]
        rm.compare(first["prompt"], *first["responses"], k=args.k)  # warm-up
        lone = []
        for r in reqs[:5]:
            start = time.perf_counter()
            rm.compare(r["prompt"], *r["responses"], k=args.k)
            lone.append(time.perf_counter() - start)
        print(f"offline: lone {statistics.median(lone):.2f} s", file=sys.stderr, flush=True)
        start = time.perf_counter()
        results = rm.compare_batch(reqs, k=args.k)
        batch_s = time.perf_counter() - start
        print(f"offline: batch {batch_s:.1f} s", file=sys.stderr, flush=True)
    finally:
        rm.close()
    return {
        "load_s": load_s,
        "lone_s": statistics.median(lone),
        "batch_s": batch_s,
        "rps": len(results) / batch_s,
        "judged": len(results),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(url: str, reqs: list[dict[str, Any]], k: int, clients: int) -> dict[str, Any]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for r in reqs:
        queue.put_nowait({**r, "k": k})
    seen: list[tuple[int, float]] = []

    async def client(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            start = time.perf_counter()
            try:
                code = (await http.post(f"{url}/judge", json=body)).status_code
            except httpx.HTTPError:
                code = -1
            seen.append((code, time.perf_counter() - start))

    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=900, limits=httpx.Limits(max_connections=clients)) as h:
        await asyncio.gather(*(client(h) for _ in range(clients)))
    wall = time.perf_counter() - start
    ok = [t for c, t in seen if c == 200]
    return {
        "wall_s": wall,
        "rps": len(ok) / wall,
        "p50_s": percentile(ok, 50),
        "p99_s": percentile(ok, 99),
        "codes": {str(c): n for c, n in sorted(Counter(c for c, _ in seen).items())},
    }


def served(args: argparse.Namespace) -> dict[str, Any]:
    reqs = requests_for(args.requests, args.seed)
    port = free_port()
    cmd = [
        sys.executable, "-m", "grm.cli", "serve", "--engine", "vllm-async", "--port", str(port),
        "--k", str(args.k), "--max-tokens", str(args.max_tokens), "--timeout", "900",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"grm serve exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        load_s = time.perf_counter() - t0
        print(f"served: up in {load_s:.0f} s", file=sys.stderr, flush=True)
        body = {**reqs[0], "k": args.k}
        httpx.post(f"{url}/judge", json=body, timeout=300).raise_for_status()  # warm-up
        lone = []
        for r in reqs[:5]:
            start = time.perf_counter()
            httpx.post(f"{url}/judge", json={**r, "k": args.k}, timeout=300).raise_for_status()
            lone.append(time.perf_counter() - start)
        print(f"served: lone {statistics.median(lone):.2f} s", file=sys.stderr, flush=True)
        out = asyncio.run(load(url, reqs, args.k, args.clients))
        return {"load_s": load_s, "lone_s": statistics.median(lone), **out}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--k", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--phase", choices=["all", "offline"], default="all")
    p.add_argument("--out", default=None, help="write the report (JSON) here too")
    args = p.parse_args()
    # On SIGTERM unwind through the finally blocks (engine and server shut down).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.phase == "offline":
        print(json.dumps(offline(args)))
        return 0
    child = [sys.executable, os.path.abspath(__file__), "--phase", "offline",
             "--requests", str(args.requests), "--k", str(args.k),
             "--max-tokens", str(args.max_tokens), "--seed", str(args.seed)]  # fmt: skip
    proc = subprocess.Popen(child, stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = proc.communicate()
    finally:
        if proc.poll() is None:  # interrupted: let the phase shut its engine down
            proc.terminate()
            proc.wait(timeout=120)
    if proc.returncode:
        raise SystemExit(f"offline phase failed (exit {proc.returncode}); see stderr above")
    off = json.loads(stdout.strip().splitlines()[-1])
    print("offline:", json.dumps(off), file=sys.stderr, flush=True)
    srv = served(args)
    report = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "requests": args.requests,
        "clients": args.clients,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "offline": off,
        "served": srv,
        "throughput_ratio": srv["rps"] / off["rps"],
        "lone_ratio": srv["lone_s"] / off["lone_s"],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
