"""A training run's per-step log as a run record: what a GRPO stage did, step by step.

``grm train`` writes every logged step of TRL's trainer to ``OUTPUT_DIR/metrics.jsonl``
(:func:`grm.training.common.metrics_callback`), and a ``difficulty:`` section writes the
starting judge's right-chain counts to ``OUTPUT_DIR/difficulty.jsonl``. This module keeps the
figures the docs quote from them (reward, train-pair accuracy, the share of groups with no
reward spread, token entropy, chain length, seconds), so a training table is rendered from a
stored record like every other figure (view ``train_steps``)::

    python -m grm.benchmarks.train_log runs/judge-suite-grpo-verified --record NAME

>>> rows = [{"stage": "grpo", "step": 1, "loss": 0.1, "reward": 0.5, "step_time": 30.0,
...          "judge/verified_accuracy": 0.75, "frac_reward_zero_std": 0.25, "entropy": 0.03,
...          "completions/mean_length": 60.0}, {"stage": "grpo", "event": "train_end"}]
>>> [s["accuracy"] for s in step_rows(rows, "grpo")]
[0.75]
>>> blocks(step_rows(rows, "grpo") * 2, 2)[0]["steps"]
'1-1'
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Per-step fields kept, from TRL's log keys (first key present wins).
FIELDS = {
    "reward": ("reward",),
    "accuracy": ("judge/verified_accuracy", "judge/accuracy"),
    "zero_std": ("frac_reward_zero_std",),
    "entropy": ("entropy",),
    "chain_tokens": ("completions/mean_length", "judge/chain_tokens"),
    "seconds": ("step_time",),
}


def step_rows(log: Sequence[dict[str, Any]], stage: str) -> list[dict[str, Any]]:
    """The training steps of ``stage`` in a ``metrics.jsonl`` (rows with a loss), with the
    :data:`FIELDS` they have and which accuracy they logged."""
    out = []
    for row in log:
        if row.get("stage") != stage or "loss" not in row:
            continue
        step: dict[str, Any] = {"step": row["step"]}
        for name, keys in FIELDS.items():
            key = next((k for k in keys if k in row), None)
            if key is not None:
                step[name] = row[key]
                if name == "accuracy":
                    step["accuracy_of"] = "verified" if "verified" in key else "verdict"
        out.append(step)
    return out


def blocks(steps: Sequence[dict[str, Any]], every: int) -> list[dict[str, Any]]:
    """Means over consecutive blocks of ``every`` steps (a log row per step is noisy: a
    step is a handful of pairs)."""
    out = []
    for i in range(0, len(steps), every):
        part = steps[i : i + every]
        row: dict[str, Any] = {"steps": f"{part[0]['step']}-{part[-1]['step']}"}
        for name in FIELDS:
            vals = [s[name] for s in part if name in s]
            row[name] = sum(vals) / len(vals) if vals else None
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="a grm train output_dir (holds metrics.jsonl)")
    p.add_argument("--stage", default="grpo", help="the stage whose steps are kept")
    p.add_argument("--last-step", type=int, help="keep the steps up to this one (a checkpoint)")
    p.add_argument("--record", required=True, help="write docs/records/NAME.json")
    args = p.parse_args(argv)
    run_dir = Path(args.run)
    metrics = run_dir / "metrics.jsonl"
    if not metrics.is_file():
        p.error(f"{metrics} not found: point at a grm train output_dir.")
    log = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    steps = step_rows(log, args.stage)
    if args.last_step is not None:
        steps = [s for s in steps if s["step"] <= args.last_step]
    if not steps:
        p.error(f"no {args.stage} training steps in {metrics}.")
    from grm.benchmarks.record import Run

    run = Run(args.record, "train_log", vars(args))
    run.figures["steps"] = steps
    difficulty = run_dir / "difficulty.jsonl"
    if difficulty.is_file():
        pairs = [json.loads(line) for line in difficulty.read_text().splitlines()]
        run.figures["difficulty"] = {
            "pairs": len(pairs),
            "kept": sum(d["kept"] for d in pairs),
            "right_share": sum(d["right"] for d in pairs) / max(1, sum(d["n"] for d in pairs)),
        }
    print(f"record: {run.save()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
