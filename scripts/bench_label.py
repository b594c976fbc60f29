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
import logging
import sys
from pathlib import Path

from grm.benchmarks.cli import add_common
from grm.benchmarks.data import label_rows
from grm.benchmarks.label import LabelBench
from grm.benchmarks.record import Run, header


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=32)
    add_common(ap, "k", "max_tokens", "engine", "seed", "json", "record")
    ap.set_defaults(k=4, max_tokens=32, engine="transformers")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--ray", action="store_true", help="also run the job on a local Ray")
    ap.add_argument(
        "--baseline-first",
        action="store_true",
        help="time compare_batch over the job's chunks before the job as well (order effects)",
    )
    args = ap.parse_args()
    logging.basicConfig(format="%(message)s")  # each figure as it is measured
    logging.getLogger("grm.benchmarks").setLevel(logging.INFO)

    run = Run(args.record or "bench_label", "bench_label", vars(args))
    job = {"k": args.k, "batch_size": args.batch_size, "seed": args.seed, "progress": False}
    bench = LabelBench(label_rows(args.pairs, args.seed), args.engine, args.max_tokens, job)
    out, load_s = bench.out, bench.load_s
    if args.baseline_first:
        bench.same_chunks("compare_batch_same_chunks_before")
    summary = bench.label_job()
    bench.same_chunks()
    bench.one_call()
    bench.rm.close()
    job_rate = out["job"]["pairs_per_s"]
    out["job_vs_same_chunks"] = round(job_rate / out["compare_batch_same_chunks"]["pairs_per_s"], 3)
    out["job_vs_one_call"] = round(job_rate / out["compare_batch_one_call"]["pairs_per_s"], 3)
    if args.ray:
        bench.ray_job(summary.seconds)
    out["setup"] = {
        "pairs": args.pairs,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "batch_size": args.batch_size,
        "engine": args.engine,
        "model_load_s": round(load_s, 1),
        **header(run),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.record:
        run.figures = out
        run.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
