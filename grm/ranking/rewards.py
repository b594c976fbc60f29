"""Rewards for RL from rankings: group rewards (GRPO) and reference-guided rewards.

GRPO (Shao et al. 2024) turns a group of completions of one prompt into advantages by
centring (and scaling) their rewards within the group, so a group reward only has to order
the group sensibly. Group rewards here are pure functions of a :class:`Ranking`, kept in a
name-keyed registry; reference-guided rewards compare each completion with a reference
answer (e.g. a dataset column) in one batched judge call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grm.ranking.base import Judge, Ranking
from grm.registry import Registry
from grm.reward_map import DROP, RewardMapConfig, result_reward
from grm.types import JudgeRequest, Prompt, Result

GroupReward = Callable[[Ranking], list[float]]
GROUP_REWARDS: Registry[GroupReward] = Registry("group reward")


def register_group_reward(name: str, replace: bool = False) -> Callable[[GroupReward], GroupReward]:
    return GROUP_REWARDS.register(name, replace=replace)


def group_reward_names() -> list[str]:
    return GROUP_REWARDS.names()


def get_group_reward(name: str) -> GroupReward:
    return GROUP_REWARDS.get(name)


@register_group_reward("win_rate")
def win_rate_reward(ranking: Ranking) -> list[float]:
    """Each completion's share of chain votes won against the others, in [0, 1]."""
    return [float(x) for x in ranking.win_rate]


@register_group_reward("rating")
def centred_rating_reward(ranking: Ranking) -> list[float]:
    """The method's scores centred on the group mean (a Bradley-Terry rating is already
    centred; summed pointwise scores and knockout rounds are centred here)."""
    s = np.asarray(ranking.scores, dtype=float)
    return [float(x) for x in s - s.mean()] if s.size else []


@register_group_reward("rank")
def rank_reward(ranking: Ranking) -> list[float]:
    """Linear in the rank: the best gets 1, the worst 0 (0.5 for a lone completion).

    >>> from grm.ranking.base import Ranking
    >>> r = Ranking("x", (0.1, 0.9, 0.5), (1, 2, 0), (0.0, 1.0, 0.5), (), (), 1)
    >>> rank_reward(r)
    [0.0, 1.0, 0.5]
    """
    n = len(ranking.order)
    if n == 1:
        return [0.5]
    out = [0.0] * n
    for pos, idx in enumerate(ranking.order):
        out[idx] = 1.0 - pos / (n - 1)
    return out


def reference_reward(result: Result, reward: RewardMapConfig = DROP) -> float | None:
    """P(completion beats the reference) from a (completion, reference) comparison.

    By default None when every chain abstained: a trainer should drop the sample, not learn
    from a made-up 0 (TRL excludes None rewards). See :mod:`grm.reward_map`.
    """
    return result_reward(result, "pairwise", reward)


def reference_rewards(
    judge: Judge,
    prompts: Sequence[Prompt],
    completions: Sequence[str],
    references: Sequence[str],
    k: Any = None,
    reward: RewardMapConfig = DROP,
    **overrides: Any,
) -> tuple[list[float | None], list[Result]]:
    """Judge every completion against its reference answer in ONE batched call.

    The completion is response A and the reference response B (the judge balances the
    order across chains); the reward is P(A is better), so a completion as good as the
    reference earns about 0.5. The reference is also passed as the request's reference.
    """
    if not len(prompts) == len(completions) == len(references):
        raise ValueError(
            f"prompts, completions and references must have the same length, got "
            f"{len(prompts)}, {len(completions)} and {len(references)}."
        )
    requests = [
        JudgeRequest(p, (c, r)) for p, c, r in zip(prompts, completions, references, strict=True)
    ]
    results = judge.compare_batch(requests, k, **overrides) if requests else []
    return [reference_reward(r, reward) for r in results], results
