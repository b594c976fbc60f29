"""Adaptive k replayed on stored chains: plan order and every stopping rule, no engine.

A ``k="auto"`` run is a prefix of the chains a fixed ``k = max_k`` run draws, in the same plan
order (position-balanced, seeded per request: :func:`grm.judge.plan_orders`), so every rule,
wave size and confidence can be compared on one set of chains without sampling again
(:func:`grm.adaptive.replay_prefix`, which a test holds equal to a real run).

>>> from grm.types import Judgment
>>> ordered = [[Judgment(winner=0)] * 8, [Judgment(winner=0), Judgment(winner=1)] * 4]
>>> rows = replay_rules(ordered, [0, 0], waves=[2], confidences=[0.9], max_k=8)
>>> sorted({r["rule"] for r in rows}) == sorted(r["rule"] for r in rows)
True
>>> next(r for r in rows if r["rule"] == "beta")["chains"] < 16
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grm.adaptive import replay_prefix
from grm.aggregation import majority_vote
from grm.benchmarks.stored import sets
from grm.config import JudgeConfig
from grm.eval_metrics import rb_score
from grm.judge import plan_orders
from grm.scaling_metrics import bootstrap_interval, paired_difference_interval
from grm.stopping import stopping_rule_names
from grm.types import Chain, Judgment, Result
from grm.vote_prior import DEFAULT_BINS, fit_prior, prior_from


def plan_ordered(result: Result, index: int, cfg: JudgeConfig) -> list[Chain]:
    """A fixed-k result's chains in the order ``plan_orders`` assigned them; ``index`` is
    the request's position in its ``compare_batch`` call (its order seed)."""
    pools: dict[tuple[int, ...], list[Chain]] = {}
    for c in result.chains:
        pools.setdefault(c.order, []).append(c)
    plan = plan_orders("pairwise", 2, 0, len(result.chains), (cfg.seed, index), cfg)
    return [pools[o].pop(0) for o in plan]


def judgment_of(winner: int | str | None) -> Judgment:
    """A stored chain vote (an index, ``'tie'`` or None) as a :class:`grm.types.Judgment`."""
    if winner is None:
        return Judgment()
    if winner == "tie":
        return Judgment(tie=True)
    return Judgment(winner=int(winner))


def plan_ordered_votes(
    pairs: Sequence[dict[str, Any]], max_k: int, seed: int, batch_size: int
) -> list[list[Judgment]]:
    """Each stored pair's chain votes (``[first, winner, forced]`` rows) in plan order.

    ``bench_scaling`` calls ``compare_batch`` on ``batch_size`` pairs at a time, so a pair's
    order seed is ``(seed, its index within the batch)``; within one response order the
    chains are exchangeable and keep their stored order.
    """
    cfg = JudgeConfig(seed=seed)
    out = []
    for i, pair in enumerate(pairs):
        pools: dict[int, list[Judgment]] = {0: [], 1: []}
        for first, winner, *_ in pair["chains"]:
            pools[int(first)].append(judgment_of(winner))
        plan = plan_orders("pairwise", 2, 0, max_k, (seed, i % batch_size), cfg)
        out.append([pools[order[0]].pop(0) for order in plan])
    return out


def stored_order(
    run: dict[str, Any], s: dict[str, Any]
) -> tuple[list[list[Judgment]], list[int], int, int]:
    """A stored ``bench_scaling`` set's chain votes in plan order, its labels, max_k and seed
    (``run``: the report holding the set, for the arguments it ran with)."""
    max_k, seed = int(run["args"]["max_k"]), int(run["args"]["seed"])
    ordered = plan_ordered_votes(s["pairs"], max_k, seed, int(run["args"]["batch_size"]))
    return ordered, [int(pair["label"]) for pair in s["pairs"]], max_k, seed


def report_vote_prior(path: str | Path, bins: int = DEFAULT_BINS) -> tuple[float, ...]:
    """The vote prior (:func:`grm.vote_prior.fit_prior`) fitted to the labelled chains of
    the first suite a ``bench_scaling`` report at ``path`` holds."""
    data = json.loads(Path(path).read_text())
    for _, run, name, s in sets(data):
        if s.get("pairs") and name != "judgebench":
            ordered, labels, max_k, _ = stored_order(run, s)
            return fit_prior(chain_counts([ch[:max_k] for ch in ordered], labels), bins)
    raise ValueError(f"{path} holds no suite with stored chains to fit a vote prior to.")


def replay(chains: list[Chain], rule: str, cfg: JudgeConfig) -> list[Chain]:
    """The prefix of plan-ordered ``chains`` adaptive k would have sampled under ``rule``
    with ``cfg``'s wave size, confidence and max_k."""
    m = replay_prefix(
        [c.judgment for c in chains], 2, rule, cfg.wave_size, cfg.confidence, cfg.max_k
    )
    return chains[:m]


def replay_rules(
    ordered: Sequence[Sequence[Judgment]],
    labels: Sequence[int],
    waves: Sequence[int],
    confidences: Sequence[float],
    max_k: int,
    seed: int = 0,
    prior: tuple[float, ...] | None = None,
    rules: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Every registered rule but ``fixed`` (or those of ``rules``), replayed for each wave
    size and confidence: accuracy (ties 0.5) with its 95% bootstrap interval, chains used,
    and the paired difference against fixed ``k = max_k`` on the same pairs. ``prior`` is
    the vote prior the ``bayes`` rule uses (None: the default prior)."""
    full = [
        rb_score(majority_vote(ch[:max_k], 2).winner, y)
        for ch, y in zip(ordered, labels, strict=True)
    ]
    rows = []
    for wave in waves:
        for conf in confidences:
            for rule in rules or stopping_rule_names():
                if rule == "fixed":
                    continue
                used = [replay_prefix(ch, 2, rule, wave, conf, max_k, prior) for ch in ordered]
                acc = [
                    rb_score(majority_vote(ch[:m], 2).winner, y)
                    for ch, m, y in zip(ordered, used, labels, strict=True)
                ]
                lo, hi = bootstrap_interval(acc, seed=seed)
                d, dlo, dhi = paired_difference_interval(acc, full, seed=seed)
                rows.append(
                    {
                        "rule": rule,
                        "wave_size": wave,
                        "confidence": conf,
                        "accuracy": sum(acc) / len(acc),
                        "low": lo,
                        "high": hi,
                        "minus_max_k": {"diff": d, "low": dlo, "high": dhi},
                        "chains": sum(used),
                        "share": sum(used) / (max_k * len(ordered)),
                    }
                )
    return rows


def chain_counts(
    ordered: Sequence[Sequence[Judgment]], labels: Sequence[int]
) -> list[tuple[float, float]]:
    """Each labelled pair's (right, wrong) chain count, a tie half of each and abstentions
    neither: what :func:`grm.vote_prior.fit_prior` fits a judge's vote prior to.

    >>> chain_counts([[Judgment(winner=1), Judgment(tie=True), Judgment()]], [1])
    [(1.5, 0.5)]
    """
    out = []
    for chains, y in zip(ordered, labels, strict=True):
        right = sum(1.0 if j.winner == y else 0.5 if j.tie else 0.0 for j in chains)
        wrong = sum(
            1.0 if j.winner is not None and j.winner != y else 0.5 if j.tie else 0.0 for j in chains
        )
        out.append((right, wrong))
    return out


#: The chance-right bands a prior's mass is summed over in :func:`prior_table`.
PRIOR_BANDS = ((0.0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))


def prior_table(priors: dict[str, Sequence[float]]) -> str:
    """Each named vote prior's mass by band of a chain's chance to be right, and its mean.

    >>> print(prior_table({"j": [0.0, 0.5, 0.0, 0.5]}).splitlines()[-1])
    | j | 50% | 0% | 0% | 50% | 62.5% |
    """
    head = " | ".join(f"{100 * lo:.0f}-{100 * hi:.0f}%" for lo, hi in PRIOR_BANDS)
    lines = [
        f"| prior fitted to | chance right {head} | mean |",
        "|---|" + "---|" * (len(PRIOR_BANDS) + 1),
    ]
    for name, weights in priors.items():
        w = prior_from(weights)
        h = [(i + 0.5) / len(w) for i in range(len(w))]
        bands = [
            sum(x for x, g in zip(w, h, strict=True) if lo <= g < hi) for lo, hi in PRIOR_BANDS
        ]
        mean = sum(x * g for x, g in zip(w, h, strict=True))
        cells = " | ".join(f"{100 * b:.0f}%" for b in bands)
        lines.append(f"| {name} | {cells} | {100 * mean:.1f}% |")
    return "\n".join(lines)


def cheapest_within(
    rows: Sequence[dict[str, Any]], top: float, points: float = 0.5
) -> dict[str, Any] | None:
    """The replayed setting with the fewest chains whose accuracy is within ``points`` of
    ``top`` (fixed max_k), or None."""
    near = [r for r in rows if r["accuracy"] >= top - points / 100]
    return min(near, key=lambda r: r["share"]) if near else None


def pareto_front(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The replayed settings no other setting beats on both chains and accuracy, by share."""
    front: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: (r["share"], -r["accuracy"])):
        if not front or r["accuracy"] > front[-1]["accuracy"]:
            front.append(r)
    return front
