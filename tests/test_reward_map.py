"""One mapping from a result to a reward: a table over templates and abstention policies."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngine

from grm import JudgeRequest, RewardModel
from grm.adapters.trl import GRMReward, TRLRewardConfig, TurnReward
from grm.ranking.rewards import reference_reward
from grm.reward_map import DROP, NEUTRAL, RewardMapConfig, map_reward, result_reward, score_range
from grm.templates import get_template, template_names
from grm.types import Result


def result(
    winner: int | None,
    probability: float | None,
    votes: tuple[int, ...],
    scores: tuple[float, ...] | None,
    ties: int = 0,
    abstentions: int = 0,
) -> Result:
    k = sum(votes) + ties + abstentions
    return Result(winner, probability, votes, scores, ties, abstentions, 0, k, (), 0, 0, 0.0)


PAIR_A = result(0, 0.75, (3, 1), None)
PAIR_TIE = result(None, 0.5, (2, 2), None)
PAIR_NONE = result(None, None, (0, 0), None, abstentions=4)
POINT_8 = result(0, None, (1,), (8.0,))
POINT_LOW = result(0, None, (1,), (1.0,))
POINT_NONE = result(None, None, (0,), None, abstentions=2)
VALUE = RewardMapConfig(on_abstain="value", abstain_value=-1.0)

TABLE = [
    # template, result, policy, slot -> reward
    ("default", PAIR_A, DROP, 0, 0.75),
    ("default", PAIR_A, DROP, 1, 0.25),
    ("rm-r1", PAIR_TIE, DROP, 0, 0.5),  # a tie is evidence, not an abstention
    ("j1", PAIR_NONE, DROP, 0, None),
    ("rrm", PAIR_NONE, NEUTRAL, 0, 0.5),
    ("default", PAIR_NONE, VALUE, 0, -1.0),
    ("pointwise", POINT_8, DROP, 0, 7 / 9),
    ("deepseek-grm", POINT_LOW, DROP, 0, 0.0),
    ("multiturn", POINT_8, NEUTRAL, 0, 7 / 9),
    ("pointwise", POINT_NONE, DROP, 0, None),
    ("pointwise", POINT_NONE, NEUTRAL, 0, 0.5),
    ("judgelrm", POINT_NONE, VALUE, 0, -1.0),
]


@pytest.mark.parametrize(("name", "res", "policy", "slot", "expected"), TABLE)
def test_reward_table(
    name: str, res: Result, policy: RewardMapConfig, slot: int, expected: float | None
) -> None:
    got = result_reward(res, get_template(name), policy, slot)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize("name", template_names())
def test_every_template_has_a_range_and_maps_into_0_1(name: str) -> None:
    template = get_template(name)
    low, high = score_range(template)
    assert high > low
    top = result(0, 1.0, (1, 0), (high, low))
    bottom = result(1, 0.0, (0, 1), (low, high))
    assert result_reward(top, template) == 1.0 and result_reward(bottom, template) == 0.0


def test_scores_outside_the_range_are_clipped() -> None:
    assert map_reward("pointwise", None, (12.0,), False, scale=(1.0, 10.0)) == 1.0
    assert map_reward("pointwise", None, (0.0,), False, scale=(1.0, 10.0)) == 0.0


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"on_abstain": "zero"}, "on_abstain must be one of drop, neutral, value"),
        (
            {"on_abstain": "value", "abstain_value": float("nan")},
            "abstain_value must be a finite number, got nan",
        ),
    ],
)
def test_config_errors_name_the_field(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RewardMapConfig(**kw)  # type: ignore[arg-type]


def test_the_server_makes_up_no_reward_by_default() -> None:
    """'drop' on the server: /get_reward answers 503 no_verdict (see test_failed_judgements)."""
    pytest.importorskip("fastapi")
    from grm.server import ServerConfig

    assert ServerConfig().reward == DROP


def abstains(prompt: str, i: int) -> str:
    return "no verdict here"


def scores_8(prompt: str, i: int) -> str:
    return "Fine.\nFinal Scores: [[8]]"


@pytest.mark.parametrize(
    ("script", "policy", "expected"),
    [(scores_8, DROP, 7 / 9), (abstains, DROP, None), (abstains, NEUTRAL, 0.5)],
)
def test_trl_pointwise_uses_the_mapping(script, policy, expected) -> None:  # type: ignore[no-untyped-def]
    rm = RewardModel(FakeEngine(script))
    fn = GRMReward(rm, TRLRewardConfig(mode="pointwise", k=2, reward=policy,
                                       overrides={"on_unparsed": "abstain"}))  # fmt: skip
    (got,) = fn(prompts=["q?"], completions=["an answer"])
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_turn_reward_and_reference_reward_use_the_mapping() -> None:
    rm = RewardModel(FakeEngine(abstains))
    turn = TurnReward(rm, k=2, reward=NEUTRAL, on_unparsed="abstain")
    assert turn(prompts=["hi"], completions=["hello"]) == [0.5]
    (r,) = rm.compare_batch([JudgeRequest("q?", ("a", "b"))], k=2, on_unparsed="abstain")
    assert r.label == "none" and reference_reward(r) is None
    assert reference_reward(r, VALUE) == -1.0
