"""Ties and abstentions told apart: an uninformative forced verdict ties, no verdict is "none"."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fake_engine import FakeEngine

from grm import JudgeRequest, RewardModel
from grm.aggregation import position_stats
from grm.types import Chain, Judgment


def unparsed(prompt: str, i: int) -> str:
    return "I keep thinking about it"


def logps(a: float, b: float):  # type: ignore[no-untyped-def]
    def fn(prompt: str, choices: Sequence[str]) -> list[float]:
        return [a, b]

    return fn


# (choice log-probs of slot A / slot B, on_unparsed) -> (label, votes, ties, abstentions,
#  position_consistency, first_slot_rate)
CASES = [
    # Equal log-probs (a top-k floor on both): no information, a tie in both orders.
    ((-30.0, -30.0), "force", ("tie", (0, 0), 4, 0, None, None)),
    ((0.0, 0.0), "force", ("tie", (0, 0), 4, 0, None, None)),
    # A real first-slot preference: a vote for whatever is shown first, so a split.
    ((-0.1, -2.0), "force", ("tie", (2, 2), 0, 0, 0.0, 1.0)),
    # Abstaining chains: no evidence at all.
    ((-0.1, -2.0), "abstain", ("none", (0, 0), 0, 4, None, None)),
]


@pytest.mark.parametrize(("lp", "policy", "expected"), CASES)
def test_forced_verdicts_and_abstentions(
    lp: tuple[float, float], policy: str, expected: tuple[object, ...]
) -> None:
    rm = RewardModel(FakeEngine(unparsed, choice_fn=logps(*lp)))
    r = rm.compare("q?", "x", "y", k=4, on_unparsed=policy)
    got = (r.label, r.votes, r.ties, r.abstentions, r.position_consistency, r.first_slot_rate)
    assert got == expected
    assert r.summary()["winner"] == expected[0]


def test_a_uniform_forced_verdict_carries_its_probability() -> None:
    rm = RewardModel(FakeEngine(unparsed, choice_fn=logps(-5.0, -5.0)))
    r = rm.compare("q?", "x", "y", k=2, aggregator="prob_weighted")
    assert all(c.judgment.tie and c.judgment.p_first == 0.5 for c in r.chains)
    assert r.probability == 0.5 and r.label == "tie"


def test_label_none_for_a_result_without_chains() -> None:
    rm = RewardModel(FakeEngine(unparsed))
    (r,) = rm.score_batch([JudgeRequest("q?", ("x", "y", "z"))], k=2, on_unparsed="abstain")
    assert r.label == "none" and r.scores is None and r.no_verdict


def test_position_stats_ignore_ties() -> None:
    chains = [
        Chain("", (0, 1), Judgment(tie=True)),
        Chain("", (1, 0), Judgment(tie=True)),
        Chain("", (0, 1), Judgment(winner=0)),
        Chain("", (1, 0), Judgment(winner=0)),
    ]
    assert position_stats(chains) == (1.0, 0.5)
