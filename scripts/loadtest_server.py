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
import sys
from pathlib import Path

import httpx

from grm.benchmarks.cli import add_common
from grm.benchmarks.record import Run, header
from grm.benchmarks.serving import METRICS, metric, payload, send_all, start_server, summarise


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--url", default=None, help="an already running server (else one is started)")
    p.add_argument("--token", default=None)
    add_common(p, "engine", "k", "max_tokens", "seed", "json", "record")
    p.set_defaults(engine="transformers", k=2, max_tokens=8)
    p.add_argument("--request-timeout", type=float, default=600.0)
    p.add_argument("--max-seconds", type=float, default=1800.0)
    add_common(p, threads={"type": int, "help": "torch CPU threads of the started server"})
    args = p.parse_args()

    run = Run(args.record or "loadtest_server", "loadtest_server", vars(args))
    proc, url = None, args.url
    if url is None:
        options = f"--engine {args.engine} --k {args.k} --max-tokens {args.max_tokens}".split()
        options += ["--token", args.token] if args.token else []
        env = dict(os.environ)
        if args.threads:
            env["OMP_NUM_THREADS"] = str(args.threads)  # torch's CPU threads in the server
        proc, url = start_server(options, env)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    # Drawn in request order from one seeded stream: the same requests however the clients
    # interleave.
    rng = random.Random(args.seed)
    calls = [payload(i, rng) for i in range(args.requests)]
    try:
        before = httpx.get(f"{url}/metrics", headers=headers).text
        seen, wall = asyncio.run(
            send_all(url, calls, args.clients, headers, args.request_timeout, args.max_seconds)
        )
        after = httpx.get(f"{url}/metrics", headers=headers).text
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    stats = summarise(seen, wall)
    codes = {int(c): n for c, n in stats["codes"].items()}
    figures = {
        "requests": args.requests,
        "clients": args.clients,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "engine": args.engine,
        "answered": len(seen),
        "lost": codes.get(-1, 0),
        "unsent": args.requests - len(seen),
        "server_errors": sum(n for c, n in codes.items() if c >= 500),
        **stats,
        **{name: metric(after, name) - metric(before, name) for name in METRICS},
    }
    report = {**header(run), **figures}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.record:
        run.figures = figures
        run.save()
    clean = figures["lost"] == 0 and figures["unsent"] == 0 and figures["server_errors"] == 0
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
