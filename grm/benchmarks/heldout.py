"""Held-out accuracy of a judge before and after training (``scripts/train_user_data.py``,
``scripts/train_eval.py``): one batched pass of k position-balanced chains per pair, k=1 as
the mean single chain, with 95% bootstrap intervals over pairs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


def evaluate(model: str | None, rows: list[dict[str, Any]], cfg: Any, engine: str) -> dict:
    """``grm.training.heldout`` metrics of ``model`` on ``rows`` with a train config's
    template, held-out k values, token budget and temperature; load and judging seconds."""
    from grm import RewardModel
    from grm.training.heldout import heldout_metrics, judge_rows

    start = time.perf_counter()
    with RewardModel.load(
        model,
        engine=engine,
        template=cfg.template,
        engine_options={"max_model_len": 4096} if engine == "vllm" else {},
        max_tokens=cfg.heldout_max_tokens,
        temperature=float(cfg.grpo.get("temperature", 1.0)),
    ) as rm:
        loaded = time.perf_counter() - start
        chains = judge_rows(rm, rows, max(cfg.heldout_ks), seed=cfg.seed)
    metrics = heldout_metrics(chains, [r["preferred"] for r in rows], cfg.heldout_ks, cfg.seed)
    metrics["load_seconds"] = loaded
    metrics["seconds"] = time.perf_counter() - start - loaded
    return metrics


def before_after_table(
    results: dict[str, Any], ks: Sequence[int], labels: dict[str, str] | None = None
) -> str:
    """Accuracy at each k with its interval, and parsed chains, for the ``before`` and
    ``after`` rows (``labels`` renames them)."""
    head = " | ".join(f"k={k} (95% CI)" for k in ks)
    lines = [f"| judge | n | {head} | chains with a parsed verdict |"]
    lines.append("|---|---|" + "---|" * (len(ks) + 1))
    for name, label in (labels or {"before": "before", "after": "after"}).items():
        m = results[name]
        cells = " | ".join(
            f"{m[f'accuracy_k{k}']:.1%} ({100 * m[f'ci95_lo_k{k}']:.0f}-{m[f'ci95_hi_k{k}']:.0%})"
            for k in ks
        )
        lines.append(f"| {label} | {int(m['n'])} | {cells} | {m['parsed_rate']:.1%} |")
    return "\n".join(lines)


def accuracy_table(report: dict[str, Any], ks: Sequence[int]) -> str:
    """``scripts/train_eval.py``'s table: per model and suite, accuracy at each k, parsed
    chains, chain tokens and seconds."""
    lines = [
        "| model | suite | n | "
        + " | ".join(f"acc k={k}" for k in ks)
        + " | parsed (k=1) | chain tokens | seconds (k=1 / k=max) |",
        "|---|---|---|" + "---|" * (len(ks) + 3),
    ]
    for model, suites in report.items():
        for name, res in suites.items():
            accs = " | ".join(f"{res[f'k={k}']['accuracy']:.1%}" for k in ks)
            first, last = res[f"k={ks[0]}"], res[f"k={ks[-1]}"]
            lines.append(
                f"| {model} | {name} | {int(first['n'])} | {accs} | {first['parsed_rate']:.0%} "
                f"| {first['chain_tokens']:.0f} | {first['seconds']:.0f} / {last['seconds']:.0f} |"
            )
    return "\n".join(lines)
