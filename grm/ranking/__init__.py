"""Ranking many candidates: pointwise, knockout and round-robin (Bradley-Terry / Elo), and
group / reference-guided rewards for RL."""

from grm.ranking import methods as _methods  # noqa: F401  (registers the built-ins)
from grm.ranking.base import (
    Judge,
    RankConfig,
    Ranking,
    RankItem,
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


def rank_items(
    judge: Judge,
    items: list[RankItem],
    method: str = "knockout",
    k: object = None,
    config: RankConfig | None = None,
    **overrides: object,
) -> list[Ranking]:
    """Rank many groups with one method; each round is one batched judge call."""
    return get_method(method)(judge, items, k, config or RankConfig(), dict(overrides))


__all__ = [
    "Judge",
    "RankConfig",
    "RankItem",
    "Ranking",
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
    "reference_rewards",
    "register_group_reward",
    "register_method",
    "round_robin_pairs",
    "win_matrix",
    "win_rates",
]
