"""Stopping rules on hand-computed vote sequences (pure functions, no engine)."""

from __future__ import annotations

import math

import pytest

from grm.stopping import (
    beta_confidence,
    decide,
    diff_confidence,
    entropy,
    esc_window,
    get_stopping_rule,
    sprt_threshold,
    stopping_rule_names,
)
from grm.types import Judgment

TIE = Judgment(tie=True)
ABSTAIN = Judgment()


def votes(a: int, b: int) -> list[Judgment]:
    return [Judgment(winner=0)] * a + [Judgment(winner=1)] * b


def stops(rule: str, js: list[Judgment], confidence: float = 0.95, max_k: int = 16) -> bool:
    return decide(rule, js, 2, confidence, max_k).stop


@pytest.mark.parametrize(("a", "b"), [(4, 0), (6, 1), (8, 2), (0, 4), (1, 6), (7, 1)])
def test_beta_rule_stops(a: int, b: int) -> None:
    assert stops("beta", votes(a, b))


@pytest.mark.parametrize(("a", "b"), [(3, 0), (7, 2), (5, 1), (2, 2), (0, 0), (6, 2)])
def test_beta_rule_continues(a: int, b: int) -> None:
    assert not stops("beta", votes(a, b))


def test_beta_confidence_matches_the_binomial_tail() -> None:
    # 1 - I_0.5(v1+1, v2+1) = P(Binomial(v1+v2+1, 1/2) <= v1): 6-1 -> 1 - 9/256.
    assert beta_confidence(6, 1) == pytest.approx(1 - 9 / 256)
    assert beta_confidence(7, 2) == pytest.approx(1 - 56 / 1024)
    assert beta_confidence(8, 2) == pytest.approx(1 - 67 / 2048)


def test_abstentions_are_no_evidence_and_ties_are_half_votes() -> None:
    assert stops("beta", votes(4, 0) + [ABSTAIN] * 3)
    # 4-0 plus two ties is 5-1 in half votes: 1 - 8/128 = 0.9375 < 0.95.
    assert not stops("beta", votes(4, 0) + [TIE, TIE])
    assert not stops("beta", [ABSTAIN] * 16)


@pytest.mark.parametrize(
    ("a", "b", "expected"), [(4, 0, True), (5, 1, True), (3, 0, False), (6, 3, False)]
)
def test_sprt_needs_a_net_lead_of_four_at_95(a: int, b: int, expected: bool) -> None:
    # Each net vote adds log(0.7/0.3) = 0.847; Wald's bound log(0.95/0.05) = 2.944.
    assert sprt_threshold(0.95) == pytest.approx(math.log(19))
    assert stops("sprt", votes(a, b)) is expected


def test_esc_window_rule() -> None:
    assert esc_window(0.95) == 6 and esc_window(0.9) == 5
    w1 = [Judgment(winner=1)]
    assert stops("entropy", votes(6, 0))
    assert not stops("entropy", votes(5, 0))
    assert stops("entropy", w1 + votes(6, 0))  # only the last window counts
    assert not stops("entropy", votes(3, 0) + [TIE] + votes(2, 0))
    assert stops("entropy", votes(3, 0) + [ABSTAIN] + votes(3, 0))  # abstentions are skipped
    assert entropy([0, 0, 1, 1]) == pytest.approx(1.0) and entropy([1, 1]) == 0.0


def test_score_difference_posterior() -> None:
    # Three chains each +2: t = 2 * sqrt(3) / 1 (sd floored at 1), two degrees of freedom.
    assert diff_confidence([2, 2, 2]) == pytest.approx(0.5 + 3.4641 / (2 * math.sqrt(14)), 1e-4)
    assert diff_confidence([1, -1]) == pytest.approx(0.5)
    assert diff_confidence([3]) == 0.5
    # Leader minus runner-up, 1 degree of freedom: 0.5 + atan(t) / pi.
    clear = [Judgment(scores=(9.0, 1.0, 2.0))] * 2  # t = 7 * sqrt(2): 0.968
    close = [Judgment(scores=(8.0, 3.0, 5.0))] * 2  # t = 3 * sqrt(2): 0.926
    assert decide("score_diff", clear, 3, 0.95, 16).stop
    assert not decide("score_diff", close, 3, 0.95, 16).stop
    assert not decide("score_diff", clear[:1], 3, 0.95, 16).stop
    mixed = [Judgment(scores=(8.0, 3.0)), Judgment(scores=(3.0, 8.0))] * 3
    assert not decide("score_diff", mixed, 2, 0.95, 16).stop


def test_curtail_stops_when_the_rest_cannot_change_the_winner() -> None:
    assert stops("curtail", votes(5, 0), max_k=8)  # 3 left, lead 5
    assert not stops("curtail", votes(3, 1), max_k=8)  # 4 left, lead 2
    assert stops("curtail", votes(9, 3), max_k=16)


def test_fixed_never_stops_and_unknown_names_list_the_choices() -> None:
    assert not stops("fixed", votes(16, 0))
    assert {"beta", "sprt", "entropy", "score_diff", "curtail", "fixed"} <= set(
        stopping_rule_names()
    )
    with pytest.raises(ValueError, match="choose one of"):
        get_stopping_rule("nope")
