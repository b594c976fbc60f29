"""The test-time scaling statistics: per-pair k-chain scores, bootstrap intervals, ICC."""

from __future__ import annotations

import random

import numpy as np
import pytest

from grm.eval_metrics import ChainRecord
from grm.scaling_metrics import (
    bootstrap_interval,
    chain_error_correlation,
    pair_scores_at_k,
    paired_difference_interval,
)


def _pairs(p_right: float, n_pairs: int, k: int, seed: int) -> tuple[list, list[int]]:
    """Pairs whose chains are right independently with probability ``p_right``."""
    rng = random.Random(seed)
    chains, labels = [], []
    for i in range(n_pairs):
        y = i % 2
        cs = []
        for j in range(k):
            right = rng.random() < p_right
            cs.append(ChainRecord(j % 2, y if right else 1 - y))
        chains.append(cs)
        labels.append(y)
    return chains, labels


def test_independent_chains_gain_from_voting_as_the_binomial_says():
    chains, labels = _pairs(0.7, 400, 16, seed=1)
    k1 = np.mean(pair_scores_at_k(chains, labels, 1, resamples=20))
    k16 = np.mean(pair_scores_at_k(chains, labels, 16))
    assert 0.66 < k1 < 0.74
    # P(majority of 16 right) + half the 8-8 ties, with p = 0.7: about 0.95.
    assert k16 > 0.9
    assert (
        abs(
            chain_error_correlation(
                [[float(c.winner == y) for c in cs] for cs, y in zip(chains, labels, strict=True)]
            )
        )
        < 0.05
    )


def test_shared_mistakes_give_no_gain_and_correlation_one():
    chains, labels = [], []
    for i in range(200):
        right = i % 10 < 7
        y = i % 2
        chains.append([ChainRecord(j % 2, y if right else 1 - y) for j in range(16)])
        labels.append(y)
    k1 = np.mean(pair_scores_at_k(chains, labels, 1))
    k16 = np.mean(pair_scores_at_k(chains, labels, 16))
    assert k1 == pytest.approx(0.7) and k16 == pytest.approx(0.7)
    correct = [[float(c.winner == y) for c in cs] for cs, y in zip(chains, labels, strict=True)]
    assert chain_error_correlation(correct) == pytest.approx(1.0)


def test_tie_and_abstention_score_half():
    tie = [ChainRecord(0, 0), ChainRecord(1, 1)]
    none = [ChainRecord(0, None), ChainRecord(1, None)]
    assert pair_scores_at_k([tie, none], [0, 1], 2) == [0.5, 0.5]


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n():
    rng = random.Random(0)
    small = [float(rng.random() < 0.6) for _ in range(100)]
    large = [float(rng.random() < 0.6) for _ in range(2000)]
    lo_s, hi_s = bootstrap_interval(small)
    lo_l, hi_l = bootstrap_interval(large)
    assert lo_s < np.mean(small) < hi_s
    assert lo_l < np.mean(large) < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 2
    # Close to the normal approximation for a proportion.
    half = 1.96 * np.sqrt(0.6 * 0.4 / 2000)
    assert (hi_l - lo_l) / 2 == pytest.approx(half, rel=0.15)


def test_constant_values_have_a_zero_width_interval():
    assert bootstrap_interval([1.0] * 30) == (1.0, 1.0)


def test_paired_difference_uses_the_pairing():
    # The same pairs move together: the difference is exactly +0.1 on every pair, so its
    # interval is a point although each side alone varies widely.
    a = [x + 0.1 for x in np.linspace(0, 0.9, 50)]
    b = list(np.linspace(0, 0.9, 50))
    d, lo, hi = paired_difference_interval(a, b)
    assert d == pytest.approx(0.1) and lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
