"""Which engine finishes a small job first: ``grm judge --example`` on each engine and k.

Each cell is one fresh process, as a user runs the README's main job (``--k`` chains of the
bundled judge on the bundled example), timed from outside (wall) and from its own JSON
(loading, judging). It sets :data:`grm.model.SMALL_CPU_JOB_CHAINS`, the largest job
``engine="auto"`` sends to transformers on a machine without a GPU.

    .venv/bin/python -m grm.benchmarks.engine_pick --k 8 64 128 --record engine-pick

>>> table({"rows": [{"engine": "vllm", "k": 8, "wall_s": 80.0, "load_s": 70.0,
...                  "judge_s": 5.0, "winner": "A", "auto": "transformers"}]}).splitlines()[2]
'| 8 | vllm | 80.0 | 70.0 | 5.0 | A | transformers |'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any


def main_job(engine: str, k: int) -> dict[str, Any]:
    """One ``grm judge --example --engine ENGINE --k K --json`` in a fresh process."""
    cmd = [sys.executable, "-m", "grm.cli", "judge", "--example", "--engine", engine,
           "--k", str(k), "--json"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout)
    return {
        "engine": engine,
        "k": k,
        "wall_s": wall,
        "load_s": out["load_seconds"],
        "judge_s": out["seconds"],
        "winner": out["winner"],
        "k_used": out["k_used"],
    }


def table(figures: dict[str, Any]) -> str:
    lines = [
        "| k | engine | wall (s) | loading (s) | judging (s) | verdict | `auto` picks |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in figures["rows"]:
        lines.append(
            f"| {r['k']} | {r['engine']} | {r['wall_s']:.1f} | {r['load_s']:.1f} "
            f"| {r['judge_s']:.1f} | {r['winner']} | {r['auto']} |"
        )
    return "\n".join(lines)


def main() -> None:
    from grm.benchmarks.record import Run
    from grm.model import resolve_engine_name

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--k", type=int, nargs="+", default=[8, 64])
    p.add_argument("--engines", nargs="+", default=["transformers", "vllm"])
    p.add_argument("--record", default=None, help="write docs/records/NAME.json")
    args = p.parse_args()
    run = Run(args.record or "engine-pick", "engine_pick", vars(args))
    run.figures["rows"] = []
    for k in args.k:
        for engine in args.engines:
            row = main_job(engine, k)
            row["auto"] = resolve_engine_name("auto", k)
            run.figures["rows"].append(row)
            print(json.dumps(row), flush=True)
    print(table(run.figures))
    if args.record:
        print("record:", run.save())


if __name__ == "__main__":
    main()
