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
import platform
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grm import JudgeRequest, RewardModel
from grm.config import DEFAULT_TIP_WORDS
from grm.types import Result

ROOT = Path(__file__).resolve().parents[1]
TRAINED = [ROOT / "runs" / "judge-grpo", ROOT / "runs" / "judge-sft"]
SWITCH = re.compile("|".join(re.escape(w) for w in DEFAULT_TIP_WORDS), re.I)


def pairs(n: int) -> list[tuple[JudgeRequest, int]]:
    from grm.training.tasks import TaskConfig, make_tasks

    return [
        (JudgeRequest(r["prompt"], tuple(r["responses"])), int(r["preferred"]))
        for r in make_tasks(TaskConfig(), "eval", n)
    ]


def settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    tip = {"tip_alpha": args.tip_alpha, "tip_beta": args.tip_beta}
    budget = {"max_think_tokens": args.budget}
    return {"plain": {}, "budget": budget, "tip": tip, "budget+tip": {**budget, **tip}}


def summarise(results: list[Result], labels: list[int], seconds: float) -> dict[str, float]:
    chains = [c for r in results for c in r.chains]
    n = max(len(chains), 1)
    return {
        "accuracy": sum(
            1.0 if r.winner == y else 0.5 if r.winner is None else 0.0
            for r, y in zip(results, labels, strict=True)
        )
        / len(results),
        "strict_accuracy": sum(r.winner == y for r, y in zip(results, labels, strict=True))
        / len(results),
        "chain_accuracy": sum(
            c.judgment.winner == y for r, y in zip(results, labels, strict=True) for c in r.chains
        )
        / n,
        "tokens_per_chain": sum(c.completion_tokens for c in chains) / n,
        "budget_hit_rate": sum(c.budget_hit for c in chains) / n,
        "forced_rate": sum(c.forced for c in chains) / n,
        "switch_words_per_chain": sum(len(SWITCH.findall(c.text)) for c in chains) / n,
        "feedback_rate": sum(r.feedback is not None for r in results) / len(results),
        "seconds": seconds,
    }


def run_judge(model: str | None, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    data = pairs(args.n)
    requests, labels = [r for r, _ in data], [y for _, y in data]
    rm = RewardModel.load(
        model, engine=args.engine, max_tokens=args.max_tokens, seed=args.seed, k=args.k
    )
    out = {}
    chosen = settings(args)
    for name, overrides in chosen.items():
        if args.settings and name not in args.settings:
            continue
        start = time.perf_counter()
        results = rm.compare_batch(requests, k=args.k, **overrides)
        out[name] = summarise(results, labels, time.perf_counter() - start)
        print(name, json.dumps(out[name]), flush=True)
    rm.close()
    return out


def table(report: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| judge | setting | accuracy | strict | chain acc. | tokens/chain | cut at budget "
        "| forced | switch words/chain | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for judge, rows in report.items():
        for name, m in rows.items():
            lines.append(
                f"| {judge} | {name} | {m['accuracy']:.3f} | {m['strict_accuracy']:.3f} "
                f"| {m['chain_accuracy']:.3f} | {m['tokens_per_chain']:.1f} "
                f"| {m['budget_hit_rate']:.0%} | {m['forced_rate']:.0%} "
                f"| {m['switch_words_per_chain']:.2f} | {m['seconds']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=24, help="held-out addition pairs")
    p.add_argument("--k", type=int, default=4, help="chains per pair")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--budget", type=int, default=24, help="max_think_tokens")
    p.add_argument("--tip-alpha", type=float, default=3.0)
    p.add_argument("--tip-beta", type=int, default=32)
    p.add_argument("--engine", default="transformers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")
    p.add_argument("--trained", default=None, help="a trained judge dir (default: runs/...)")
    p.add_argument(
        "--settings",
        nargs="*",
        default=None,
        choices=["plain", "budget", "tip", "budget+tip"],
        help="run only these settings (default: all four)",
    )
    p.add_argument(
        "--judges", default="both", choices=["both", "base", "trained"], help="which judges to run"
    )
    p.add_argument("--json", default=str(ROOT / "runs" / "bench_tip_budget.json"))
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    judges: dict[str, str | None] = {}
    if args.judges != "trained":
        judges["base (SmolLM2-135M)"] = None
    found = [Path(args.trained)] if args.trained else [d for d in TRAINED if d.is_dir()]
    for d in found if args.judges != "base" else []:
        if (d / "config.json").is_file():
            judges[f"trained ({d.name})"] = str(d)
            break
    report = {name: run_judge(model, args) for name, model in judges.items()}
    meta = {
        "command": "scripts/bench_tip_budget.py "
        + " ".join(
            f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
            if v is not None
        ),
        "machine": f"2-core CPU, 24 GiB, no GPU ({platform.machine()})",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"meta": meta, "report": report}, indent=2))
    print(json.dumps(meta))
    print(table(report))


if __name__ == "__main__":
    main()
