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

SIGTERM (e.g. from ``timeout``) ends both phases cleanly: the offline engine and the server
process are shut down rather than left running.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from grm.benchmarks.cli import add_common
from grm.benchmarks.record import Run, header
from grm.benchmarks.serving import offline, served


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--clients", type=int, default=32)
    add_common(p, "k", "max_tokens", "seed", "record", k=2, max_tokens=8)
    p.add_argument("--phase", choices=["all", "offline"], default="all")
    p.add_argument("--out", default=None, help="write the report (JSON) here too")
    args = p.parse_args()
    logging.basicConfig(format="%(message)s")  # the phases' progress, on stderr
    logging.getLogger("grm.benchmarks").setLevel(logging.INFO)
    # On SIGTERM unwind through the finally blocks (engine and server shut down).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.phase == "offline":
        print(json.dumps(offline(args)))
        return 0
    run = Run(args.record or "bench_serve", "bench_serve", vars(args))
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
    figures = {
        "requests": args.requests,
        "clients": args.clients,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "offline": off,
        "served": srv,
        "throughput_ratio": srv["rps"] / off["rps"],
        "lone_ratio": srv["lone_s"] / off["lone_s"],
    }
    text = json.dumps({**header(run), **figures}, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.record:
        run.figures = figures
        run.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
