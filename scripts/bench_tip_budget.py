"""Benchmark the thinking budget and the TIP thought-switch penalty, side by side.

For each judge (the embedded base model; a trained judge when ``runs/judge-grpo`` or
``runs/judge-sft`` holds a ``config.json``) it judges the same held-out two-digit addition
pairs (``grm.training.tasks.make_tasks(TaskConfig(), "eval", n)``) with k chains under four
settings in one run: plain, a thinking budget (``max_think_tokens``: chains cut there get a
forced verdict), TIP (Wang et al. 2025: switch words penalised by alpha in the first beta
tokens of each thought), and both. It reports accuracy (RewardBench's rule: 1 right, 0.5
tie, 0 wrong), strict accuracy (ties count 0), sampled tokens per chain, the share of chains
cut at the budget and forced, thought-switch words per chain, and seconds.

    .venv/bin/python scripts/bench_tip_budget.py --n 24 --k 4 --max-tokens 64 --budget 24

Prints a Markdown table for docs/benchmarks.md and writes a JSON report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grm.benchmarks.cli import add_common, set_threads
from grm.benchmarks.data import trained_judges
from grm.benchmarks.record import ROOT, Run, header
from grm.benchmarks.tip_budget import SETTINGS, run_judge, table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=24, help="held-out addition pairs")
    add_common(p, "k", "max_tokens", engine="transformers", seed=0, threads=None, record=None)
    p.set_defaults(k=4)
    p.add_argument("--budget", type=int, default=24, help="max_think_tokens")
    p.add_argument("--tip-alpha", type=float, default=3.0)
    p.add_argument("--tip-beta", type=int, default=32)
    p.add_argument("--trained", default=None, help="a trained judge dir (default: runs/...)")
    p.add_argument(
        "--settings",
        nargs="*",
        default=None,
        choices=list(SETTINGS),
        help="run only these settings (default: all four)",
    )
    p.add_argument(
        "--judges", default="both", choices=["both", "base", "trained"], help="which judges to run"
    )
    p.add_argument("--json", default=str(ROOT / "runs" / "bench_tip_budget.json"))
    args = p.parse_args()
    set_threads(args)
    run = Run(args.record or "bench_tip_budget", "bench_tip_budget", vars(args))
    judges: dict[str, str | None] = {}
    if args.judges != "trained":
        judges["base (SmolLM2-135M)"] = None
    found = [Path(args.trained)] if args.trained else trained_judges()
    if args.judges != "base" and found and (found[0] / "config.json").is_file():
        judges[f"trained ({found[0].name})"] = str(found[0])
    report = {
        name: run_judge(model, args, run, lambda line: print(line, flush=True))
        for name, model in judges.items()
    }
    meta = header(run)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "report": report}, indent=2))
    print(json.dumps(meta))
    print(table(report))
    if args.record:
        run.data["report"] = report
        run.save()


if __name__ == "__main__":
    main()
