"""The vote prior and the Bayes-optimal stopping rule (grm.vote_prior, the ``bayes`` rule),
against an independent brute-force recursion and on hand-computed cases."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from grm.config import JudgeConfig
from grm.stopping import decide
from grm.types import Judgment
from grm.vote_prior import (
    DEFAULT_PRIOR,
    bayes_stop,
    fit_prior,
    grid,
    leader_posterior,
    prior_from,
)


def votes(a: int, b: int) -> list[Judgment]:
    return [Judgment(winner=0)] * a + [Judgment(winner=1)] * b


def test_a_known_chance_gives_the_binomial_posterior() -> None:
    # All mass on h = 0.75: the posterior depends on the lead d alone, 3^d / (1 + 3^d).
    p = prior_from([0.0, 1.0])
    for v1, v2 in ((1, 0), (2, 1), (5, 4), (3, 0), (6, 3)):
        d = v1 - v2
        assert leader_posterior(v1, v2, p) == pytest.approx(3**d / (1 + 3**d))
    assert leader_posterior(2, 2, p) == pytest.approx(0.5)


def test_em_recovers_a_two_point_mixture() -> None:
    rng = np.random.default_rng(0)
    h = np.where(rng.random(600) < 0.4, 0.525, 0.925)
    right = rng.binomial(16, h)
    p = np.array(fit_prior([(r, 16 - r) for r in right], bins=20))
    g = grid(20)
    assert p.sum() == pytest.approx(1.0)
    assert p[np.abs(g - 0.525) < 0.08].sum() == pytest.approx(0.4, abs=0.07)
    assert p[np.abs(g - 0.925) < 0.08].sum() == pytest.approx(0.6, abs=0.07)


def brute_force(v1: int, v2: int, left: int, prior: tuple[float, ...], cost: float) -> bool:
    """The same decision by plain recursion over sequences of votes (no shared code)."""
    h = [(i + 0.5) / len(prior) for i in range(len(prior))]

    def mass(a: int, b: int, first_better: bool) -> float:
        return sum(
            f * (x**a * (1 - x) ** b if first_better else (1 - x) ** a * x**b)
            for f, x in zip(prior, h, strict=True)
        )

    def stop_value(a: int, b: int) -> float:
        pa = mass(a, b, True) / (mass(a, b, True) + mass(a, b, False))
        return pa if a > b else 1 - pa if b > a else 0.5

    @cache
    def value(a: int, b: int, n: int) -> float:
        if n == 0:
            return stop_value(a, b)
        total = mass(a, b, True) + mass(a, b, False)
        q = (mass(a + 1, b, True) + mass(a + 1, b, False)) / total
        go = -cost + q * value(a + 1, b, n - 1) + (1 - q) * value(a, b + 1, n - 1)
        return max(stop_value(a, b), go)

    if left == 0:
        return True
    total = mass(v1, v2, True) + mass(v1, v2, False)
    q = (mass(v1 + 1, v2, True) + mass(v1 + 1, v2, False)) / total
    go = -cost + q * value(v1 + 1, v2, left - 1) + (1 - q) * value(v1, v2 + 1, left - 1)
    return stop_value(v1, v2) >= go


def test_the_decision_matches_a_brute_force_recursion() -> None:
    prior = fit_prior([(7, 1)] * 30 + [(4, 4)] * 20 + [(1, 7)] * 5, bins=10)
    decisions = set()
    for cost in (0.002, 0.01, 0.03):
        for v1 in range(9):
            for v2 in range(9 - v1):
                left = 8 - v1 - v2
                got = bayes_stop(float(v1), float(v2), left, prior, cost)[0]
                assert got == brute_force(v1, v2, left, prior, cost), (v1, v2, cost)
                decisions.add(got)
    assert decisions == {True, False}  # the cases do differ


def test_it_stops_where_more_chains_would_not_change_the_accuracy() -> None:
    # Half the pairs are coin flips for this judge, half are easy: a 5-3 split says "coin",
    # and eight more chains would barely make it better, so bayes stops where beta goes on.
    g = grid(20)
    prior = prior_from([1.0 if abs(x - 0.525) < 0.01 or abs(x - 0.975) < 0.01 else 0 for x in g])
    split = votes(5, 3)
    assert decide("bayes", split, 2, 0.9, 16, prior=prior).stop
    assert not decide("beta", split, 2, 0.9, 16).stop
    # Under the default prior (the judge beats a coin by an unknown margin) it goes on.
    assert not decide("bayes", split, 2, 0.9, 16).stop


@pytest.mark.parametrize(
    ("a", "b", "confidence", "expected"),
    [(8, 0, 0.95, True), (1, 0, 0.99, False), (1, 1, 0.99, False), (0, 0, 0.8, False)],
)
def test_the_default_prior(a: int, b: int, confidence: float, expected: bool) -> None:
    assert decide("bayes", votes(a, b), 2, confidence, 16).stop is expected


def test_abstentions_are_no_evidence_and_the_cap_is_max_k() -> None:
    assert decide("bayes", votes(1, 1) + [Judgment()] * 14, 2, 0.999, 16).stop  # none left
    plain = decide("bayes", votes(3, 1), 2, 0.97, 16, prior=DEFAULT_PRIOR)
    padded = decide("bayes", votes(3, 1) + [Judgment()] * 2, 2, 0.97, 18, prior=DEFAULT_PRIOR)
    assert plain.settled == pytest.approx(padded.settled)


@pytest.mark.parametrize(
    "bad", [[1.0], [-1.0, 2.0], [0.0, 0.0], [float("nan"), 1.0], ["x", "1"], "0.2,y"]
)
def test_a_bad_prior_names_the_field_and_the_fix(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="vote_prior must be .* --prior-from"):
        JudgeConfig(vote_prior=bad)


def test_the_config_normalises_the_prior() -> None:
    cfg = JudgeConfig(k="auto", stopping="bayes", vote_prior=[1, 3])
    assert cfg.vote_prior == (0.25, 0.75)
    assert JudgeConfig(vote_prior=("1", "3")).vote_prior == (0.25, 0.75)  # as the CLI gives it


@pytest.mark.parametrize(("v1", "v2"), [(1, 0), (3, 1), (5, 3), (6, 1), (8, 2)])
def test_the_default_prior_is_the_beta_rule_s_posterior(v1: int, v2: int) -> None:
    # Uniform on h > 1/2 for "which is better" is Adaptive-Consistency's uniform prior on the
    # leader's share asked whether it exceeds 1/2; the grid makes them differ a little.
    from grm.stopping import beta_confidence

    assert leader_posterior(v1, v2, DEFAULT_PRIOR) == pytest.approx(
        beta_confidence(v1, v2), abs=0.01
    )
