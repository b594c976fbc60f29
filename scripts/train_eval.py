"""Held-out accuracy of judge checkpoints before and after training, at k=1 and k=8.

Every model is judged through ``RewardModel.compare_batch`` (position-balanced chains,
majority vote, RewardBench scoring: a tie counts 0.5) on

- the held-out split of the verifiable addition tasks (operand pairs never seen in training;
  the split is the one ``training/configs/*.yaml`` train on, ``TaskConfig(seed=0)``), and
- the first rows of JudgeBench (GPT-4o pairs; read from ../shared/data, never copied).

    .venv/bin/python scripts/train_eval.py --model base --model runs/judge-sft \
        --n 100 --judgebench 20 --json docs/train_eval.json

``base`` names the embedded default model. Results print as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from grm.benchmarks.cli import add_common
from grm.benchmarks.data import JUDGEBENCH as SHARED
from grm.benchmarks.heldout import accuracy_table


def main() -> None:
    from grm.training.data import load_preferences
    from grm.training.evaluate import evaluate_judge
    from grm.training.tasks import TaskConfig, make_tasks

    from grm import RewardModel

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="checkpoint dir, or 'base'")
    p.add_argument("--n", type=int, default=100, help="held-out addition items (0 skips)")
    p.add_argument("--judgebench", type=int, default=20, help="JudgeBench rows (0 skips)")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 8])
    add_common(p, "json", max_tokens=80, engine="auto", temperature=None)
    args = p.parse_args()

    suites = {}
    if args.n:
        suites["addition (held-out)"] = make_tasks(TaskConfig(seed=0), "eval", args.n)
    if args.judgebench:
        with SHARED.open() as f:
            lines = [json.loads(line) for _, line in zip(range(args.judgebench), f, strict=False)]
        suites["JudgeBench"] = load_preferences(lines, "judgebench")

    report: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for model in args.model:
        path = None if model == "base" else model
        start = time.perf_counter()
        with RewardModel.load(path, engine=args.engine, temperature=args.temperature) as rm:
            print(f"# {model}: loaded in {time.perf_counter() - start:.0f} s", flush=True)
            report[model] = {}
            for name, rows in suites.items():
                res = evaluate_judge(rm, rows, args.ks, args.max_tokens)
                report[model][name] = {f"k={k}": v for k, v in res.items()}
                for k, v in res.items():
                    print(f"# {model} {name} k={k}: {json.dumps(v)}", flush=True)

    print("\n" + accuracy_table(report, args.ks))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
