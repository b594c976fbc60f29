"""Ranking many candidates: pointwise, knockout and round-robin (Bradley-Terry / Elo), and
group / reference-guided rewards for RL."""

from typing import Any

from grm.ranking import methods as _methods  # noqa: F401  (registers the built-ins)
from grm.ranking.base import (
    Judge,
    JudgeCall,
    RankConfig,
    Ranking,
    RankItem,
    RankSteps,
    get_method,
    method_names,
    register_method,
)
from grm.ranking.bracket import knockout_rounds, pair_round, round_robin_pairs
from grm.ranking.bradley_terry import bt_bootstrap, bt_fit, elo_ratings, win_matrix, win_rates
from grm.ranking.rewards import (
    get_group_reward,
    group_reward_names,
    reference_rewards,
    register_group_reward,
)
from grm.types import Result


def rank_steps(
    items: list[RankItem],
    method: str = "knockout",
    k: object = None,
    config: RankConfig | None = None,
    **overrides: object,
) -> RankSteps:
    """The steps of ranking many groups with one method (see :data:`RankSteps`)."""
    return get_method(method)(items, k, config or RankConfig(), dict(overrides))


def _answer(judge: Judge, call: JudgeCall) -> list[Result]:
    batch = judge.compare_batch if call.mode == "compare" else judge.score_batch
    return batch(list(call.requests), call.k, **call.overrides)


def run_steps(judge: Judge, steps: RankSteps) -> list[Ranking]:
    """Drive ranking steps on the sync judge: each round is one batched judge call."""
    try:
        call = next(steps)
        while True:
            call = steps.send(_answer(judge, call))
    except StopIteration as stop:
        return stop.value


async def arun_steps(judge: Any, steps: RankSteps, engine: Any = None) -> list[Ranking]:
    """Await ranking steps on the judge's async side (``acompare_batch`` / ``ascore_batch``
    with ``engine``), as the server awaits any judgement: cancelling this cancels the
    round's engine work."""
    try:
        call = next(steps)
        while True:
            batch = judge.acompare_batch if call.mode == "compare" else judge.ascore_batch
            got = await batch(list(call.requests), call.k, engine=engine, **call.overrides)
            call = steps.send(got)
    except StopIteration as stop:
        return stop.value


def rank_items(
    judge: Judge,
    items: list[RankItem],
    method: str = "knockout",
    k: object = None,
    config: RankConfig | None = None,
    **overrides: object,
) -> list[Ranking]:
    """Rank many groups with one method; each round is one batched judge call."""
    return run_steps(judge, rank_steps(items, method, k, config, **overrides))


__all__ = [
    "Judge",
    "JudgeCall",
    "RankConfig",
    "RankItem",
    "RankSteps",
    "Ranking",
    "arun_steps",
    "bt_bootstrap",
    "bt_fit",
    "elo_ratings",
    "get_group_reward",
    "get_method",
    "group_reward_names",
    "knockout_rounds",
    "method_names",
    "pair_round",
    "rank_items",
    "rank_steps",
    "reference_rewards",
    "register_group_reward",
    "register_method",
    "round_robin_pairs",
    "run_steps",
    "win_matrix",
    "win_rates",
]
