"""The GRPO rewards on small hand cases, and their TRL adapters on realistic chains."""

from __future__ import annotations

import pytest
from grm.training.rewards import (
    REWARD_FUNCS,
    format_reward,
    make_reward_funcs,
    parse_failure_rate,
    pointwise_reward,
    swap_consistency_rewards,
    verdict_reward,
)

from grm.parsing import Parsed


@pytest.mark.parametrize(
    ("winner", "preferred", "expected"),
    [(0, 0, 1.0), (1, 1, 1.0), (0, 1, -1.0), (1, 0, -1.0), (None, 0, -1.0), (None, 1, -1.0)],
)
def test_verdict_reward(winner: int | None, preferred: int, expected: float) -> None:
    assert verdict_reward(winner, preferred) == expected


def test_swap_consistency_needs_both_orders_right() -> None:
    # Pair 0: both orders always right -> 1 each. Pair 1: order (1, 0) always wrong -> 0.
    correct = [True, True, True, True, True, True, False, False]
    pairs = [0, 0, 0, 0, 1, 1, 1, 1]
    orders = [(0, 1), (0, 1), (1, 0), (1, 0), (0, 1), (0, 1), (1, 0), (1, 0)]
    assert swap_consistency_rewards(correct, pairs, orders) == [1, 1, 1, 1, 0, 0, 0, 0]


def test_swap_consistency_without_mirror_is_plain_correctness() -> None:
    assert swap_consistency_rewards([True, False], [3, 3], [(0, 1), (0, 1)]) == [1.0, 0.0]


def test_swap_consistency_length_mismatch() -> None:
    with pytest.raises(ValueError, match="same length"):
        swap_consistency_rewards([True], [0, 1], [(0, 1)])


@pytest.mark.parametrize(
    ("scores", "preferred", "expected"),
    [
        ((9, 2), 0, 1.0),
        ((2, 9), 0, -1.0),
        ((7, 7), 0, -1.0),  # a tie is not "strictly highest" (DeepSeek-GRM)
        ((3, 8, 8), 1, -1.0),
        ((3, 9, 8), 1, 1.0),
        (None, 0, -1.0),
        ((5, 4), 3, -1.0),
    ],
)
def test_pointwise_reward(
    scores: tuple[float, ...] | None, preferred: int, expected: float
) -> None:
    assert pointwise_reward(scores, preferred) == expected


def test_format_reward() -> None:
    assert (format_reward(True), format_reward(False)) == (1.0, 0.0)


@pytest.mark.parametrize(
    ("length", "expected"), [(0, 0.0), (75, 0.0), (80, -0.2), (95, -0.8), (100, -1.0), (140, -1.0)]
)
def test_overlong_is_trls_soft_punishment(length: int, expected: float) -> None:
    # max 100 tokens -> buffer 25: free up to 75, then linear to -1 at 100 (DAPO Eq. 13).
    (overlong,) = make_reward_funcs("default", ["overlong"], 100)
    assert type(overlong).__module__.startswith("trl.")
    out = overlong(prompts=["p"], completions=["c"], completion_ids=[[0] * length])
    assert out == [pytest.approx(expected)]


def test_parse_failure_rate() -> None:
    assert parse_failure_rate([]) == 0.0
    assert parse_failure_rate([None, None, Parsed(winner=1), Parsed(winner=0)]) == 0.5


CHAINS = [
    "7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85. Response A says 86: wrong. "
    "Response B says 85: correct. Final verdict: [[B]]",
    "Response A is right. Final verdict: [[A]]",
    "I cannot decide.",  # no verdict: a counted failure, never a crash
    # more than the 400 characters of explanation a verdict line may carry: not the tail
    "Final verdict: [[B]] and then a very long ramble " + "that goes on " * 50,
]


def test_trl_verdict_adapter_scores_and_logs() -> None:
    logged: dict[str, float] = {}
    (verdict,) = make_reward_funcs("default", ["verdict"], 64)
    rewards = verdict(
        prompts=["p"] * 4,
        completions=[[{"role": "assistant", "content": c}] for c in CHAINS],
        completion_ids=[[1] * 10, [1] * 20, [1] * 30, [1] * 40],
        preferred_slot=[1, 1, 1, 1],
        log_metric=logged.__setitem__,
        trainer_state=None,
    )
    assert rewards == [1.0, -1.0, -1.0, -1.0]
    assert logged["judge/accuracy"] == 0.25
    assert logged["judge/parse_failure_rate"] == 0.5
    assert logged["judge/chain_tokens"] == 25.0


def test_trl_format_and_overlong_adapters() -> None:
    fmt, overlong = make_reward_funcs("default", ["format", "overlong"], 40)
    assert fmt(prompts=["p"] * 4, completions=CHAINS) == [1.0, 1.0, 0.0, 0.0]
    assert overlong(
        prompts=["p"] * 2, completions=["a", "b"], completion_ids=[[0] * 10, [0] * 40]
    ) == [
        0.0,
        -1.0,
    ]


def test_trl_pointwise_adapter() -> None:
    (pw,) = make_reward_funcs("pointwise", ["pointwise"], 64)
    out = pw(
        prompts=["p"] * 3,
        completions=["Final Scores: [[9, 2]]", "Final Scores: [[5, 5]]", "no scores"],
        preferred_slot=[0, 0, 0],
        order=[(0, 1)] * 3,
    )
    assert out == [1.0, -1.0, -1.0]


def test_unknown_reward_is_named() -> None:
    with pytest.raises(ValueError, match="reward .bogus. is unknown; choose one of"):
        make_reward_funcs("default", ["bogus"], 64)
    assert set(REWARD_FUNCS) >= {"verdict", "swap_consistency", "pointwise", "format", "overlong"}


def test_trl_verified_adapter_pays_only_the_rule_chain() -> None:
    """The ``verified`` reward reads the rows' ``reference`` column (grpo_rows writes the rule's
    chain there): a right verdict by other steps is paid like a wrong one."""
    from grm.training.data import grpo_rows
    from grm.training.tasks import TaskConfig, make_tasks

    row = grpo_rows(make_tasks(TaskConfig(), "train", 1), "default", both_orders=True)[0]
    ref = row["reference"]
    verdict = ref[ref.rindex("Final verdict") :]
    wrong_step = ref.replace(verdict, "I checked nothing. " + verdict)
    other = "[[A]]" if verdict.endswith("[[B]]") else "[[B]]"
    completions = [
        ref,
        "  " + ref.replace(" ", "\n", 3),
        wrong_step,
        ref.replace(verdict[-5:], other),
    ]
    logged: dict[str, float] = {}
    (verified,) = make_reward_funcs("default", ["verified"], 128)
    rewards = verified(
        prompts=[row["prompt"]] * 4,
        completions=[[{"role": "assistant", "content": c}] for c in completions],
        preferred_slot=[row["preferred_slot"]] * 4,
        reference=[ref] * 4,
        log_metric=logged.__setitem__,
    )
    assert rewards == [1.0, 1.0, -1.0, -1.0]
    assert logged["judge/verified_accuracy"] == 0.5


def test_verified_reward_without_rule_chains_names_the_fix() -> None:
    (verified,) = make_reward_funcs("default", ["verified"], 128)
    with pytest.raises(ValueError, match="'verified' reward needs each row's rule chain"):
        verified(prompts=["p"], completions=["Final verdict: [[A]]"], preferred_slot=[0])
    with pytest.raises(ValueError, match="preference_chains"):
        verified(
            prompts=["p"],
            completions=["Final verdict: [[A]]"],
            preferred_slot=[0],
            reference=[None],
        )
