"""Benchmark the evaluation harness and the calibrators on a JudgeBench subset.

For each judge (the embedded base model; a trained judge directory when given) it runs the
``grm eval`` harness once at k chains per pair (a seeded random subset of JudgeBench rows,
read from ../shared/data), then cross-validates every registered calibrator on the pairs'
raw probabilities: ECE, Brier and log-loss before, and after on held-out folds
(:mod:`grm.benchmarks.eval_report`). It writes each judge's report and plots under
``--out`` and prints Markdown tables.

    .venv/bin/python scripts/bench_eval.py --limit 40 --k 8 --max-tokens 48
    .venv/bin/python scripts/bench_eval.py --models runs/judge-sft --data held-out-tasks
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from grm import RewardModel
from grm.benchmarks.cli import add_common
from grm.benchmarks.data import JUDGEBENCH
from grm.benchmarks.eval_report import calibrate, tables
from grm.benchmarks.record import ROOT, Run, header
from grm.evaluation import EvalConfig, evaluate, load_items, write_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default=str(JUDGEBENCH), help="a file, or 'held-out-tasks'")
    p.add_argument("--limit", type=int, default=40)
    add_common(p, "k", "engine", "seed", max_tokens=48)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--models", nargs="*", default=[None], help="judge dirs; default: embedded")
    p.add_argument("--out", default=str(ROOT / "docs" / "eval"))
    args = p.parse_args()

    tasks = args.data == "held-out-tasks"
    if tasks:
        from grm.training.tasks import TaskConfig, make_tasks

        items = load_items(make_tasks(TaskConfig(), "eval", args.limit), seed=args.seed)
        data_name = "addition (held-out)"
    else:
        items = load_items(args.data, args.limit, args.seed)
        data_name = Path(args.data).stem
    cfg = EvalConfig(k=args.k, batch_size=8, resamples=50, seed=args.seed)
    summary: dict[str, Any] = {**header(Run("bench_eval", "bench_eval", vars(args))), "judges": {}}
    for model in args.models:
        name = Path(model).name if model else "base"
        t0 = time.perf_counter()
        rm = RewardModel.load(
            model or None,
            engine=args.engine,
            max_tokens=args.max_tokens,
            seed=args.seed,
            engine_options={"max_model_len": 4096} if args.engine == "vllm" else None,
            calibrator=False,
        )
        load_s = time.perf_counter() - t0
        report = evaluate(rm, items, cfg)
        rm.close()
        report["data"] = data_name
        report["load_seconds"] = load_s
        out = Path(args.out) / f"{name}-{'tasks' if tasks else 'jb'}"
        write_report(report, out)
        cv = calibrate(
            report, args.folds, args.seed, out, f"{name} on {data_name}: held-out calibration"
        )
        keys = ("n", "accuracy", "strict_accuracy", "accuracy_vs_k", "position", "rates")
        summary["judges"][name] = {
            "data": data_name,
            **{k: report[k] for k in keys},
            "length": report["length"]["longer_win_rate"],
            "seconds": report["seconds"],
            "tokens": report["tokens"],
            "calibration_cv": cv,
            "out": str(out),
        }
        print(tables(name, report, cv, args.k))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    names = "-".join(summary["judges"])
    path = Path(args.out) / f"summary-{names}-{'tasks' if tasks else 'jb'}.json"
    path.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
