"""Labelling benchmark: the data-set job's throughput against bare ``compare_batch``.

The same pairs (two-digit additions, the right sum against a near miss) are judged three
ways with one loaded judge: (1) ``grm.label`` (read, content ids, chunks, shards written as
it goes, merge, summary); (2) ``compare_batch`` over exactly the job's chunks with the job's
seeds (the same engine passes with none of the job machinery); (3) one ``compare_batch`` over
all the pairs. (1) / (2) is what the machinery costs. With ``--ray`` the job also runs as a
Ray Data pipeline on a local Ray with one actor (its own model load included), which gives
the Ray path's overhead on one machine and the per-actor rate for a cluster projection.

    .venv/bin/python scripts/bench_label.py --pairs 32 --k 4 --max-tokens 32 --ray
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import grm
from grm.jobs import JobConfig, ModelSpec
from grm.jobs.ids import chunk_seed
from grm.jobs.rows import pair_request
from grm.jobs.runner import plan
from grm.jobs.tasks import LabelTask


def make_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x, y = rng.randint(10, 89), rng.randint(10, 89)
        miss = x + y + rng.choice([-1, 1]) * rng.randint(1, 9)
        pair = [f"{x} + {y} = {x + y}", f"{x} + {y} = {miss}"]
        rng.shuffle(pair)
        rows.append({"prompt": f"What is {x} + {y}?", "responses": pair})
    return rows


def show(name: str, value: Any) -> None:
    """Print each figure as soon as it is measured (a long run keeps what it has)."""
    print(json.dumps({name: value}), flush=True)


def rate(pairs: int, chains: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 2),
        "pairs_per_s": round(pairs / seconds, 4),
        "chains_per_s": round(chains / seconds, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=32)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--engine", default="transformers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ray", action="store_true", help="also run the job on a local Ray")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument(
        "--baseline-first",
        action="store_true",
        help="time compare_batch over the job's chunks before the job as well (order effects)",
    )
    args = ap.parse_args()

    rows = make_rows(args.pairs, args.seed)
    work = Path(tempfile.mkdtemp(prefix="grm-bench-label-"))
    src = work / "pairs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = ModelSpec(engine=args.engine, judge={"max_tokens": args.max_tokens})
    t = time.perf_counter()
    rm = spec.load()
    load_s = time.perf_counter() - t
    rm.compare_batch(make_rows(2, args.seed + 1), k=2, max_tokens=8)  # warm-up

    job = {"k": args.k, "batch_size": args.batch_size, "seed": args.seed, "progress": False}
    cfg = JobConfig(**job)
    _, by_chunk, _ = plan(LabelTask(), rows, cfg.batch_size)

    def same_chunks() -> dict[str, float]:
        t = time.perf_counter()
        chains = 0
        for chunk, pairs in sorted(by_chunk.items()):
            reqs = sorted(((rid, pair_request(r)) for rid, r in pairs), key=lambda p: p[0])
            res = rm.compare_batch([q for _, q in reqs], args.k, seed=chunk_seed(args.seed, chunk))
            chains += sum(r.k_used for r in res)
        return rate(len(rows), chains, time.perf_counter() - t)

    out: dict[str, Any] = {}
    if args.baseline_first:
        out["compare_batch_same_chunks_before"] = same_chunks()
        show("compare_batch_same_chunks_before", out["compare_batch_same_chunks_before"])
    summary = grm.label(src, work / "labels.jsonl", rm=rm, **job)
    out["job"] = rate(summary.judged, summary.chains, summary.seconds)
    out["job_judging_only"] = rate(summary.judged, summary.chains, summary.judge_seconds)
    show("job", out["job"])
    out["compare_batch_same_chunks"] = same_chunks()
    show("compare_batch_same_chunks", out["compare_batch_same_chunks"])

    t = time.perf_counter()
    res = rm.compare_batch(rows, args.k, seed=args.seed)
    out["compare_batch_one_call"] = rate(
        len(rows), sum(r.k_used for r in res), time.perf_counter() - t
    )
    show("compare_batch_one_call", out["compare_batch_one_call"])
    rm.close()
    base = out["compare_batch_same_chunks"]["pairs_per_s"]
    out["job_vs_same_chunks"] = round(out["job"]["pairs_per_s"] / base, 3)
    out["job_vs_one_call"] = round(
        out["job"]["pairs_per_s"] / out["compare_batch_one_call"]["pairs_per_s"], 3
    )

    if args.ray:
        import ray

        ray.init(num_cpus=2, log_to_driver=False)
        t = time.perf_counter()
        s = grm.label(src, work / "ray.jsonl", model=spec, ray={"actors": 1}, **job)
        wall = time.perf_counter() - t
        ray.shutdown()
        out["ray_one_actor"] = rate(s.judged, s.chains, wall)
        out["ray_overhead_s"] = round(wall - (summary.seconds + load_s), 1)
        same = [json.loads(x)["grm_verdict"] for x in (work / "ray.jsonl").open()] == [
            json.loads(x)["grm_verdict"] for x in (work / "labels.jsonl").open()
        ]
        out["ray_same_verdicts"] = same

    out["setup"] = {
        "pairs": args.pairs,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "batch_size": args.batch_size,
        "engine": args.engine,
        "model_load_s": round(load_s, 1),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "date": date.today().isoformat(),
        "command": "python " + " ".join(sys.argv),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
