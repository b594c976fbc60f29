"""The thinking budget and TIP's thought-switch penalty on the same pairs, side by side
(``scripts/bench_tip_budget.py``).

Settings: plain, a thinking budget (``max_think_tokens``: a chain cut there gets a forced
verdict), TIP (Wang et al. 2025: switch words penalised by alpha in the first beta tokens of
each thought), and both. Accuracy follows RewardBench (1 right, 0.5 tie, 0 wrong); strict
accuracy counts a tie as wrong.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from typing import Any

from grm.benchmarks.data import heldout_addition
from grm.benchmarks.record import Run, figure
from grm.config import DEFAULT_TIP_WORDS
from grm.eval_metrics import rb_score
from grm.types import Result

SWITCH = re.compile("|".join(re.escape(w) for w in DEFAULT_TIP_WORDS), re.I)
SETTINGS = ("plain", "budget", "tip", "budget+tip")


def summarise(results: list[Result], labels: list[int], seconds: float) -> dict[str, Any]:
    chains = [c for r in results for c in r.chains]
    n = max(len(chains), 1)
    pairs = list(zip(results, labels, strict=True))
    return {
        "accuracy": sum(rb_score(r.winner, y) for r, y in pairs) / len(results),
        "strict_accuracy": sum(r.winner == y for r, y in pairs) / len(results),
        "chain_accuracy": sum(c.judgment.winner == y for r, y in pairs for c in r.chains) / n,
        "tokens_per_chain": sum(c.completion_tokens for c in chains) / n,
        "budget_hit_rate": sum(c.budget_hit for c in chains) / n,
        "forced_rate": sum(c.forced for c in chains) / n,
        "switch_words_per_chain": sum(len(SWITCH.findall(c.text)) for c in chains) / n,
        "feedback_rate": sum(r.feedback is not None for r in results) / len(results),
        "seconds": seconds,
    }


def run_judge(
    model: str | None,
    args: argparse.Namespace,
    run: Run,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every chosen setting on the held-out pairs with one loaded judge; each setting's
    per-pair scores go to ``run`` (figures with intervals, raw items)."""
    data = heldout_addition(args.n)
    requests, labels = [r for r, _ in data], [y for _, y in data]
    from grm import RewardModel

    rm = RewardModel.load(
        model, engine=args.engine, max_tokens=args.max_tokens, seed=args.seed, k=args.k
    )
    tip = {"tip_alpha": args.tip_alpha, "tip_beta": args.tip_beta}
    budget = {"max_think_tokens": args.budget}
    overrides = {"plain": {}, "budget": budget, "tip": tip, "budget+tip": {**budget, **tip}}
    out = {}
    for name in [s for s in SETTINGS if not args.settings or s in args.settings]:
        start = time.perf_counter()
        results = rm.compare_batch(requests, k=args.k, **overrides[name])
        out[name] = summarise(results, labels, time.perf_counter() - start)
        if progress:
            progress(f"{name} {json.dumps(out[name])}")
        scores = [rb_score(r.winner, y) for r, y in zip(results, labels, strict=True)]
        run.figures[f"{model or 'base'}/{name}/accuracy"] = figure(scores, args.seed)
        run.items.append({"judge": model, "setting": name, "scores": scores})
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
