"""Evaluation metrics over judged pairs: pure functions, no engine.

Accuracy follows RewardBench's generative rule: 1 for the right winner, 0.5 for a tie or a
parse failure (no verdict at all), 0 for the wrong one. Strict accuracy counts only right
winners. Accuracy versus k is read from one pass at the largest k by resampling chains.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grm.calibration.metrics import (
    calibration_summary,
    first_slot_rate,
    longer_win_rate,
    mean_and_stderr,
    reliability_bins,
    swap_consistency,
    win_rate_by_length,
)


@dataclass(frozen=True)
class ChainRecord:
    """One chain, reduced to what the metrics need."""

    first: int
    """The original index of the response shown first."""
    winner: int | str | None
    """The preferred original index, 'tie', or None for an abstention."""
    forced: bool = False


def rb_score(winner: int | None, label: int) -> float:
    """RewardBench's rule: ``1`` right, ``0.5`` tie or no verdict, ``0`` wrong."""
    return 0.5 if winner is None else float(winner == label)


def majority(chains: Sequence[ChainRecord]) -> int | None:
    """Majority winner of a pair's chains (ties half a vote each); None on a tie or no votes."""
    a = sum(c.winner == 0 for c in chains) + 0.5 * sum(c.winner == "tie" for c in chains)
    b = sum(c.winner == 1 for c in chains) + 0.5 * sum(c.winner == "tie" for c in chains)
    if a == b:
        return None
    return 0 if a > b else 1


def balanced_subset(chains: Sequence[ChainRecord], k: int, rng: random.Random) -> list[ChainRecord]:
    """``k`` chains drawn without replacement, half from each response order.

    With k odd the extra chain comes from a random order; an order short of chains is
    topped up from the other. This mirrors how the judge samples k chains (position-balanced).
    """
    if k >= len(chains):
        return list(chains)
    pools: dict[int, list[int]] = {}
    for i, c in enumerate(chains):
        pools.setdefault(c.first, []).append(i)
    keys = sorted(pools)
    if len(keys) == 1:
        return rng.sample(list(chains), k)
    want = {key: k // 2 for key in keys[:2]}
    if k % 2:
        want[rng.choice(keys[:2])] += 1
    picked: list[int] = []
    for key in keys[:2]:
        picked += rng.sample(pools[key], min(want[key], len(pools[key])))
    if len(picked) < k:
        rest = sorted(set(range(len(chains))) - set(picked))
        picked += rng.sample(rest, k - len(picked))
    return [chains[i] for i in picked]


def ks_up_to(k_max: int) -> list[int]:
    """1, 2, 4, ... up to ``k_max``, plus ``k_max`` itself."""
    ks, k = [], 1
    while k < k_max:
        ks.append(k)
        k *= 2
    return ks + [k_max]


def accuracy_vs_k(
    chains: Sequence[Sequence[ChainRecord]],
    labels: Sequence[int],
    k_max: int,
    resamples: int = 50,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Expected accuracy of majority voting over k chains, for k = 1, 2, 4, ..., k_max.

    For k < k_max, each of ``resamples`` rounds draws a position-balanced subset of k chains
    per pair (:func:`balanced_subset`) and scores the majority; the point is the mean over
    rounds and ``stderr`` its standard error. At k_max every chain is used (one round).
    """
    rng = random.Random(seed)
    out = []
    for k in ks_up_to(k_max):
        rounds = 1 if k >= k_max else resamples
        accs, stricts = [], []
        for _ in range(rounds):
            scores = [
                rb_score(majority(balanced_subset(c, k, rng)), y)
                for c, y in zip(chains, labels, strict=True)
            ]
            accs.append(sum(scores) / len(scores))
            stricts.append(sum(s == 1.0 for s in scores) / len(scores))
        mean, err = mean_and_stderr(accs)
        out.append({"k": k, "accuracy": mean, "stderr": err, "strict": sum(stricts) / rounds})
    return out


def _accuracy(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    scores = [rb_score(r["winner"], r["label"]) for r in records]
    return {
        "accuracy": sum(scores) / len(scores),
        "strict_accuracy": sum(s == 1.0 for s in scores) / len(scores),
        "n": float(len(scores)),
    }


def summarize(
    records: Sequence[dict[str, Any]],
    chains: Sequence[Sequence[ChainRecord]],
    k_max: int,
    resamples: int,
    seed: int,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Every metric of the report from the per-pair records and their chains."""
    labels = [int(r["label"]) for r in records]
    groups = sorted({r["group"] for r in records})
    total_chains = sum(r["k_used"] for r in records) or 1
    report: dict[str, Any] = {
        "n": len(records),
        "k": k_max,
        **_accuracy(records),
        "by_group": {g: _accuracy([r for r in records if r["group"] == g]) for g in groups},
        "accuracy_vs_k": accuracy_vs_k(chains, labels, k_max, resamples, seed),
    }
    if len(groups) > 1:
        report["accuracy_vs_k_by_group"] = {
            g: accuracy_vs_k(
                [c for c, r in zip(chains, records, strict=True) if r["group"] == g],
                [y for y, r in zip(labels, records, strict=True) if r["group"] == g],
                k_max,
                resamples,
                seed,
            )
            for g in groups
        }
    # Position: chain-level first-slot rate; pair-level swap consistency of the majorities
    # of the chains shown (A, B) and those shown (B, A).
    flat = [(c.first, c.winner) for cs in chains for c in cs if isinstance(c.winner, int)]
    by_order = [
        (
            majority([c for c in cs if c.first == 0]) if any(c.first == 0 for c in cs) else None,
            majority([c for c in cs if c.first == 1]) if any(c.first == 1 for c in cs) else None,
        )
        for cs in chains
    ]
    both = [p for p, cs in zip(by_order, chains, strict=True) if len({c.first for c in cs}) == 2]
    report["position"] = {
        "first_slot_rate": first_slot_rate([f for f, _ in flat], [w for _, w in flat]),
        "swap_consistency": swap_consistency([a for a, _ in both], [b for _, b in both]),
        "pairs_in_both_orders": len(both),
    }
    report["rates"] = {
        "abstention": sum(r["abstentions"] for r in records) / total_chains,
        "forced": sum(r["forced"] for r in records) / total_chains,
        # A tie had evidence on both sides; a pair whose every chain abstained has none.
        "tie": sum(r["winner"] is None and r["abstentions"] < r["k_used"] for r in records)
        / len(records),
        "none": sum(r["abstentions"] == r["k_used"] for r in records) / len(records),
    }
    report["tokens"] = {
        "prompt": sum(r["prompt_tokens"] for r in records),
        "completion": sum(r["completion_tokens"] for r in records),
    }
    scored = [r for r in records if r["p_raw"] is not None]
    y = [1.0 if r["label"] == 0 else 0.0 for r in scored]
    raw = [float(r["p_raw"]) for r in scored]
    report["calibration"] = {
        "raw": calibration_summary(raw, y, n_bins) if scored else {},
        "reliability_raw": [b.__dict__ for b in reliability_bins(raw, y, n_bins)],
    }
    if any(r["calibrated"] for r in scored):
        cal = [float(r["p"]) for r in scored]
        report["calibration"]["calibrated"] = calibration_summary(cal, y, n_bins)
    a_won = [1.0 if r["winner"] == 0 else (0.5 if r["winner"] is None else 0.0) for r in records]
    report["length"] = {
        "longer_win_rate": longer_win_rate(
            [r["len_a"] for r in records],
            [r["len_b"] for r in records],
            [r["winner"] for r in records],
        ),
        "win_rate_by_length_diff": win_rate_by_length(
            [r["len_a"] - r["len_b"] for r in records], a_won
        ),
    }
    return report
