"""Held-out accuracy of a judge checkpoint, through the same ``RewardModel`` users call.

Scoring follows RewardBench's generative rule: a right winner is 1, a wrong one 0, and a tie
(or a request where every chain abstained) 0.5. Chains are position-balanced by the judge
(k=1 is one random order per item).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from grm.training.data import request_of
from grm.training.tasks import TaskRow


def pair_score(winner: int | None, preferred: int) -> float:
    """RewardBench's generative score: 1 right, 0 wrong, 0.5 tie.

    >>> pair_score(0, 0), pair_score(1, 0), pair_score(None, 0)
    (1.0, 0.0, 0.5)
    """
    if winner is None:
        return 0.5
    return 1.0 if winner == preferred else 0.0


def evaluate_judge(
    rm: Any,
    rows: Sequence[TaskRow],
    ks: Sequence[int] = (1, 8),
    max_tokens: int = 96,
    seed: int = 0,
) -> dict[int, dict[str, float]]:
    """Accuracy and chain statistics of ``rm`` (a RewardModel) on ``rows`` for each k."""
    requests = [request_of(r) for r in rows]
    out: dict[int, dict[str, float]] = {}
    for k in ks:
        start = time.perf_counter()
        results = rm.compare_batch(requests, k=k, max_tokens=max_tokens, seed=seed)
        seconds = time.perf_counter() - start
        chains = sum(r.k_used for r in results)
        out[k] = {
            "accuracy": sum(
                pair_score(r.winner, row["preferred"]) for r, row in zip(results, rows, strict=True)
            )
            / len(rows),
            "parsed_rate": 1 - sum(r.forced for r in results) / max(chains, 1),
            "chain_tokens": sum(r.completion_tokens for r in results) / max(chains, 1),
            "first_slot_rate": _mean([r.first_slot_rate for r in results]),
            "n": float(len(rows)),
            "seconds": seconds,
        }
    return out


def _mean(values: Sequence[float | None]) -> float:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else float("nan")
