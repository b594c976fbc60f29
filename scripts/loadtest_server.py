"""Load test of ``grm serve`` on loopback: many concurrent clients, bounded in count and time.

Starts a server process on 127.0.0.1 (or uses ``--url``), sends ``--requests`` POST /judge
and /get_reward requests from ``--clients`` concurrent clients, and reports requests per
second, p50/p99 latency, status codes, the engine calls, failures and timeouts (from
/metrics) and whether any request was lost or answered 5xx. Every request has a deadline,
and the whole run stops at ``--max-seconds``.

    .venv/bin/python scripts/loadtest_server.py --requests 500 --clients 32
    .venv/bin/python scripts/loadtest_server.py --url http://127.0.0.1:8000 --token ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "grm.cli", "serve", "--port", str(port), "--engine", args.engine,
        "--k", str(args.k), "--max-tokens", str(args.max_tokens),
    ]  # fmt: skip
    if args.token:
        cmd += ["--token", args.token]
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)  # torch's CPU threads in the server
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"grm serve exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.kill()
    raise SystemExit("grm serve did not become healthy within 600 s")


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def payload(i: int, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """Two in three requests judge a pair, one in three asks OpenRLHF-style rewards."""
    x, y = rng.randint(10, 99), rng.randint(10, 99)
    right, wrong = str(x + y), str(x + y + rng.choice([-2, -1, 1, 2]))
    if i % 3 == 2:
        prompt = f"Q: What is {x} + {y}? A:"
        return "/get_reward", {
            "query": [f"{prompt} {right}", f"{prompt} {wrong}"],
            "prompts": [prompt, prompt],
            "labels": [right, right],
        }
    a, b = (right, wrong) if i % 2 else (wrong, right)
    return "/judge", {"prompt": f"What is {x} + {y}?", "responses": [a, b]}


async def client(
    queue: asyncio.Queue[int], http: httpx.AsyncClient, url: str, headers: dict[str, str],
    out: list[tuple[int, float]], timeout: float, seed: int,
) -> None:  # fmt: skip
    rng = random.Random(seed)
    while True:
        try:
            i = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        path, body = payload(i, rng)
        start = time.perf_counter()
        try:
            r = await http.post(url + path, json=body, headers=headers, timeout=timeout)
            code = r.status_code
        except httpx.HTTPError:
            code = -1  # lost: no answer
        out.append((code, time.perf_counter() - start))


async def run_load(args: argparse.Namespace, url: str) -> tuple[list[tuple[int, float]], float]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(args.requests):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    out: list[tuple[int, float]] = []
    limits = httpx.Limits(max_connections=args.clients)
    start = time.perf_counter()
    async with httpx.AsyncClient(limits=limits) as http:
        tasks = [
            client(queue, http, url, headers, out, args.request_timeout, args.seed + c)
            for c in range(args.clients)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), args.max_seconds)
        except asyncio.TimeoutError:
            print(f"stopped at --max-seconds={args.max_seconds}", file=sys.stderr)
    return out, time.perf_counter() - start


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--url", default=None, help="an already running server (else one is started)")
    p.add_argument("--token", default=None)
    p.add_argument("--engine", default="transformers")
    p.add_argument("--k", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--request-timeout", type=float, default=600.0)
    p.add_argument("--max-seconds", type=float, default=1800.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads of the started server (1 is faster on a busy shared machine)",
    )  # fmt: skip
    args = p.parse_args()

    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    try:
        before = httpx.get(f"{url}/metrics", headers=headers).text
        results, wall = asyncio.run(run_load(args, url))
        after = httpx.get(f"{url}/metrics", headers=headers).text
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    codes = Counter(c for c, _ in results)
    ok = [t for c, t in results if c == 200]
    calls = {
        name: metric(after, name) - metric(before, name)
        for name in (
            'grm_engine_calls_total{kind="generate"}',
            'grm_engine_calls_total{kind="choice"}',
            "grm_engine_failures_total",
            "grm_timeouts_total",
        )
    }
    report = {
        "command": "python " + " ".join(sys.argv),
        "date": date.today().isoformat(),
        "requests": args.requests,
        "clients": args.clients,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "engine": args.engine,
        "answered": len(results),
        "lost": codes.get(-1, 0),
        "unsent": args.requests - len(results),
        "codes": {str(c): n for c, n in sorted(codes.items())},
        "server_errors": sum(n for c, n in codes.items() if c >= 500),
        "rps": len(ok) / wall if wall else 0.0,
        "p50_s": percentile(ok, 50),
        "p99_s": percentile(ok, 99),
        "wall_s": wall,
        **calls,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    clean = report["lost"] == 0 and report["unsent"] == 0 and report["server_errors"] == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
