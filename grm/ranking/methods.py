"""The ranking methods: pointwise, knockout, round_robin. Each batches over groups.

Each method is a step generator (see :data:`grm.ranking.base.RankSteps`): every round yields
ONE :class:`~grm.ranking.base.JudgeCall` over all the comparisons of that round in every
group, so a round costs one batched engine pass (plus the judge's forced-verdict read, when
some chains need one), never a loop of calls. k (an integer or "auto") and any judge
overrides reach every comparison unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from grm.ranking.base import JudgeCall, RankConfig, Ranking, RankItem, RankSteps, register_method
from grm.ranking.bracket import next_alive, pair_round, round_robin_pairs
from grm.ranking.bradley_terry import (
    Record,
    bt_bootstrap,
    bt_fit,
    elo_ratings,
    order_by,
    win_matrix,
    win_rates,
)
from grm.types import JudgeRequest, Result

logger = logging.getLogger(__name__)


def pair_request(item: RankItem, a: int, b: int) -> JudgeRequest:
    return JudgeRequest(item.prompt, (item.candidates[a], item.candidates[b]), item.reference)


def pair_records(a: int, b: int, result: Result) -> list[Record]:
    """One record per chain that gave a verdict; abstentions give none (they stay counted in
    the result)."""
    v_a, v_b = result.votes
    return [(a, b, 1.0)] * v_a + [(a, b, 0.0)] * v_b + [(a, b, 0.5)] * result.ties


def game_winner(a: int, b: int, result: Result, coin: int) -> tuple[int, bool]:
    """The candidate that goes through, and whether a tie-break decided it.

    The judge's winner first; on a tie its probability (e.g. verdict probabilities); at an
    exact 0.5 (an even split, or every chain abstaining) the seeded ``coin`` (0 or 1).
    """
    if result.winner is not None:
        return (a if result.winner == 0 else b), False
    p = result.probability
    if p is not None and p != 0.5:
        return (a if p > 0.5 else b), False
    return (a if coin == 0 else b), True


def scores_win_rate(scores: Sequence[float]) -> tuple[float, ...]:
    """Share of the other candidates each one outscored, ties half (0.5 when alone).

    >>> scores_win_rate([3.0, 1.0, 3.0])
    (0.75, 0.0, 0.75)
    """
    n = len(scores)
    if n < 2:
        return (0.5,) * n
    return tuple(
        (sum(s > t for t in scores) + 0.5 * (sum(s == t for t in scores) - 1)) / (n - 1)
        for s in scores
    )


@register_method("pointwise")
def rank_pointwise(
    items: Sequence[RankItem], k: Any, cfg: RankConfig, overrides: dict[str, Any]
) -> RankSteps:
    """DeepSeek-GRM listwise scoring: all candidates in one prompt, 1-10 each, shuffled per
    chain, scores combined over chains with ``cfg.pointwise_aggregator`` (sum). One call."""
    start = time.perf_counter()
    requests = [JudgeRequest(it.prompt, it.candidates, it.reference) for it in items]
    opts = {**overrides, "aggregator": cfg.pointwise_aggregator}
    results = yield JudgeCall("score", tuple(requests), k, opts)
    seconds = (time.perf_counter() - start) / max(len(items), 1)
    out = []
    for it, res in zip(items, results, strict=True):
        n = len(it.candidates)
        scores = tuple(float(s) for s in res.scores) if res.scores is not None else (0.0,) * n
        out.append(
            Ranking(
                method="pointwise",
                scores=scores,
                order=order_by(scores),
                win_rate=scores_win_rate(scores),
                results=(res,),
                pairs=(),
                rounds=1,
                seconds=seconds,
            )
        )
    return out


@register_method("knockout")
def rank_knockout(
    items: Sequence[RankItem], k: Any, cfg: RankConfig, overrides: dict[str, Any]
) -> RankSteps:
    """Single elimination: N-1 pairwise games in ceil(log2 N) rounds, byes for odd counts.

    A candidate's score is the number of rounds it survived; candidates out in the same
    round are ordered by their share of chain votes. Round r of every group is one call.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(cfg.seed)
    alive: list[list[int]] = []
    for it in items:
        n = len(it.candidates)
        seeding = rng.permutation(n) if cfg.shuffle_bracket else np.arange(n)
        alive.append([int(x) for x in seeding])
    had_bye: list[set[int]] = [set() for _ in items]
    survived = [[0] * len(it.candidates) for it in items]
    played: list[list[tuple[tuple[int, int], Result]]] = [[] for _ in items]
    records: list[list[Record]] = [[] for _ in items]
    tiebreaks = [0] * len(items)
    rounds = [0] * len(items)
    while any(len(a) > 1 for a in alive):
        plan: list[tuple[int, list[tuple[int, int]], int | None]] = []
        requests: list[JudgeRequest] = []
        for g, it in enumerate(items):
            if len(alive[g]) < 2:
                continue
            pairs, bye = pair_round(alive[g], had_bye[g])
            if bye is not None:
                had_bye[g].add(bye)
            plan.append((g, pairs, bye))
            requests.extend(pair_request(it, a, b) for a, b in pairs)
        results = iter((yield JudgeCall("compare", tuple(requests), k, dict(overrides))))
        for g, pairs, bye in plan:
            winners = []
            for a, b in pairs:
                res = next(results)
                w, broke = game_winner(a, b, res, int(rng.integers(2)))
                winners.append(w)
                tiebreaks[g] += broke
                played[g].append(((a, b), res))
                records[g].extend(pair_records(a, b, res))
            alive[g] = next_alive(pairs, winners, bye)
            for c in alive[g]:
                survived[g][c] += 1
            rounds[g] += 1
    seconds = (time.perf_counter() - start) / max(len(items), 1)
    out = []
    for g, it in enumerate(items):
        n = len(it.candidates)
        rate = win_rates(n, records[g])
        scores = tuple(float(s) for s in survived[g])
        won = survived[g]
        order = tuple(sorted(range(n), key=lambda i: (-won[i], -float(rate[i]), i)))
        out.append(
            Ranking(
                method="knockout",
                scores=scores,
                order=order,
                win_rate=tuple(float(x) for x in rate),
                results=tuple(r for _, r in played[g]),
                pairs=tuple(p for p, _ in played[g]),
                rounds=rounds[g],
                tiebreaks=tiebreaks[g],
                seconds=seconds,
            )
        )
    return out


@register_method("round_robin")
def rank_round_robin(
    items: Sequence[RankItem], k: Any, cfg: RankConfig, overrides: dict[str, Any]
) -> RankSteps:
    """Every pair (or a connected subset of ``cfg.max_pairs``) in ONE call, then ratings.

    Each chain's verdict is one game (ties half a win); ratings are a Bradley-Terry fit with
    bootstrap intervals, or Elo. With N candidates and k chains a pair this spends
    ``k * N(N-1)/2`` chains, against ``k * (N-1)`` for a knockout.
    """
    start = time.perf_counter()
    schedules = [
        round_robin_pairs(len(it.candidates), cfg.max_pairs, cfg.seed + g)
        for g, it in enumerate(items)
    ]
    requests = [
        pair_request(it, a, b) for it, pairs in zip(items, schedules, strict=True) for a, b in pairs
    ]
    judged = (yield JudgeCall("compare", tuple(requests), k, dict(overrides))) if requests else []
    results = iter(judged)
    seconds = (time.perf_counter() - start) / max(len(items), 1)
    out = []
    for it, pairs in zip(items, schedules, strict=True):
        n = len(it.candidates)
        got = [next(results) for _ in pairs]
        recs = [r for (a, b), res in zip(pairs, got, strict=True) for r in pair_records(a, b, res)]
        ci = None
        if cfg.rating == "elo":
            ratings = elo_ratings(n, recs, seed=cfg.seed)
        else:
            ratings = bt_fit(win_matrix(n, recs), cfg.l2)
            if cfg.bootstrap and recs:
                lo, hi = bt_bootstrap(n, recs, cfg.l2, cfg.bootstrap, cfg.ci_level, cfg.seed)
                ci = tuple((float(a), float(b)) for a, b in zip(lo, hi, strict=True))
        scores = tuple(float(x) for x in ratings)
        out.append(
            Ranking(
                method="round_robin",
                scores=scores,
                order=order_by(scores),
                win_rate=tuple(float(x) for x in win_rates(n, recs)),
                results=tuple(got),
                pairs=tuple(pairs),
                rounds=1 if pairs else 0,
                ci=ci,
                seconds=seconds,
            )
        )
    return out
