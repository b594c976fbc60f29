"""A ``grm serve`` process on loopback and concurrent HTTP clients, for load benchmarks.

>>> summarise([(200, 1.0), (200, 3.0), (503, 0.1), (-1, 9.0)], wall=2.0)["codes"]
{'-1': 1, '200': 2, '503': 1}
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from grm.benchmarks.record import percentile

logger = logging.getLogger(__name__)

METRICS = (  # the server's counters a load test reports the change of
    'grm_engine_calls_total{kind="generate"}',
    'grm_engine_calls_total{kind="choice"}',
    "grm_engine_failures_total",
    "grm_timeouts_total",
)


def metric(text: str, name: str) -> float:
    """One counter's value in a Prometheus /metrics text (0 when absent)."""
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    options: Sequence[str], env: dict[str, str] | None = None, wait_s: float = 600.0
) -> tuple[subprocess.Popen[str], str]:
    """``grm serve --port P OPTIONS`` on 127.0.0.1, returned once ``/health`` answers 200.

    Raises SystemExit with the server's stderr if it exits, or after ``wait_s`` seconds.
    The caller terminates the process (``proc.terminate(); proc.wait()``).
    """
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "grm.cli", "serve", "--port", str(port), *options]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
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
    raise SystemExit(f"grm serve did not become healthy within {wait_s:.0f} s")


async def send_all(
    url: str,
    calls: Sequence[tuple[str, dict[str, Any]]],
    clients: int,
    headers: dict[str, str] | None = None,
    timeout: float = 900.0,
    max_seconds: float | None = None,
) -> tuple[list[tuple[int, float]], float]:
    """POST every ``(path, body)`` from ``clients`` concurrent clients; returns each
    answered request's ``(status, seconds)`` (-1 for no answer) and the wall time. Requests
    not sent when ``max_seconds`` runs out are left out."""
    import httpx

    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    seen: list[tuple[int, float]] = []

    async def client(http: httpx.AsyncClient) -> None:
        while True:
            try:
                path, body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                r = await http.post(url + path, json=body, headers=headers or {}, timeout=timeout)
                code = r.status_code
            except httpx.HTTPError:
                code = -1  # lost: no answer
            seen.append((code, time.perf_counter() - start))

    start = time.perf_counter()
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        try:
            await asyncio.wait_for(
                asyncio.gather(*(client(http) for _ in range(clients))), max_seconds
            )
        except asyncio.TimeoutError:
            logger.warning("stopped at max_seconds=%s", max_seconds)
    return seen, time.perf_counter() - start


def summarise(seen: Sequence[tuple[int, float]], wall: float) -> dict[str, Any]:
    """Requests per second (answered 200), p50/p99 latency of those, and status counts."""
    ok = [t for c, t in seen if c == 200]
    return {
        "wall_s": wall,
        "rps": len(ok) / wall if wall else 0.0,
        "p50_s": percentile(ok, 50),
        "p99_s": percentile(ok, 99),
        "codes": {str(c): n for c, n in sorted(Counter(c for c, _ in seen).items())},
    }


def lone(call: Any, reqs: list[dict[str, Any]]) -> float:
    """Median seconds of ``call`` on the first five requests, after one warm-up call."""
    call(reqs[0])
    times = []
    for r in reqs[:5]:
        start = time.perf_counter()
        call(r)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def offline(args: Any) -> dict[str, Any]:
    """The offline phase: the lone call and one ``compare_batch`` over all requests."""
    from grm import RewardModel
    from grm.benchmarks.data import serve_requests

    reqs = serve_requests(args.requests, args.seed)
    t0 = time.perf_counter()
    rm = RewardModel.load(engine="vllm", max_tokens=args.max_tokens)
    load_s = time.perf_counter() - t0
    logger.info("offline: loaded in %.0f s", load_s)
    try:
        lone_s = lone(
            lambda r: rm.compare(r["prompt"], r["responses"][0], r["responses"][1], k=args.k), reqs
        )
        logger.info("offline: lone %.2f s", lone_s)
        start = time.perf_counter()
        results = rm.compare_batch(reqs, k=args.k)
        batch_s = time.perf_counter() - start
        logger.info("offline: batch %.1f s", batch_s)
    finally:
        rm.close()
    n = len(results)
    return {"load_s": load_s, "lone_s": lone_s, "batch_s": batch_s, "rps": n / batch_s, "judged": n}


def served(args: Any) -> dict[str, Any]:
    """The served phase: ``grm serve`` with vLLM's AsyncLLM, a lone request, then the same
    requests from ``args.clients`` concurrent clients."""
    import httpx

    from grm.benchmarks.data import serve_requests

    reqs = serve_requests(args.requests, args.seed)
    t0 = time.perf_counter()
    options = ["--engine", "vllm-async", "--k", str(args.k), "--max-tokens", str(args.max_tokens)]
    proc, url = start_server([*options, "--timeout", "900"])
    try:
        load_s = time.perf_counter() - t0
        logger.info("served: up in %.0f s", load_s)

        def post(r: dict[str, Any]) -> None:
            httpx.post(f"{url}/judge", json={**r, "k": args.k}, timeout=300).raise_for_status()

        lone_s = lone(post, reqs)
        logger.info("served: lone %.2f s", lone_s)
        calls = [("/judge", {**r, "k": args.k}) for r in reqs]
        seen, wall = asyncio.run(send_all(url, calls, args.clients))
        return {"load_s": load_s, "lone_s": lone_s, **summarise(seen, wall)}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
