"""Test-time scaling statistics over judged pairs: pure functions, no engine.

- :func:`pair_scores_at_k`: each pair's expected RewardBench score when k of its chains vote
  (the mean over position-balanced resamples), so the accuracy at k is their mean.
- :func:`bootstrap_interval` / :func:`paired_difference_interval`: 95% percentile-bootstrap
  intervals over pairs (``scipy.stats.bootstrap``), for one curve point and for the gain
  accuracy(k) - accuracy(1) on the same pairs.
- :func:`chain_error_correlation`: the intra-class correlation of chain correctness within a
  pair. Majority voting gains most when it is near 0 (each chain's error is independent) and
  nothing when it is near 1 (every chain on a pair makes the same mistake).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from grm.eval_metrics import ChainRecord, balanced_subset, majority, rb_score


def pair_scores_at_k(
    chains: Sequence[Sequence[ChainRecord]],
    labels: Sequence[int],
    k: int,
    resamples: int = 50,
    seed: int = 0,
) -> list[float]:
    """Each pair's expected score (1 right, 0.5 tie, 0 wrong) of a k-chain majority vote.

    With ``k`` at least a pair's chain count, all its chains vote once.

    >>> a, b = ChainRecord(0, 0), ChainRecord(1, 1)
    >>> pair_scores_at_k([[a, a, b]], [0], 3)
    [1.0]
    """
    rng = random.Random(seed)
    out = []
    for cs, y in zip(chains, labels, strict=True):
        rounds = 1 if k >= len(cs) else resamples
        total = sum(rb_score(majority(balanced_subset(cs, k, rng)), y) for _ in range(rounds))
        out.append(total / rounds)
    return out


def bootstrap_interval(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (resampling pairs).

    >>> lo, hi = bootstrap_interval([0.0, 1.0] * 50)
    >>> 0.38 < lo < 0.5 < hi < 0.62
    True
    """
    from scipy.stats import bootstrap

    data = np.asarray(values, dtype=float)
    if data.size < 2 or np.all(data == data[0]):
        m = float(data.mean()) if data.size else float("nan")
        return m, m
    res = bootstrap(
        (data,),
        np.mean,
        confidence_level=confidence,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def paired_difference_interval(
    a: Sequence[float],
    b: Sequence[float],
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over the same pairs and its percentile-bootstrap interval.

    >>> d, lo, hi = paired_difference_interval([1.0] * 10 + [0.0] * 10, [0.0] * 20)
    >>> d, lo > 0.2, hi < 0.8
    (0.5, True, True)
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    lo, hi = bootstrap_interval(diff.tolist(), confidence, resamples, seed)
    return float(diff.mean()), lo, hi


def chain_error_correlation(correct: Sequence[Sequence[float]]) -> float:
    """Intra-class correlation (one-way ANOVA estimator) of chain correctness within pairs.

    ``correct[i]`` holds 1/0 per chain of pair i (abstentions left out by the caller). 0 means
    the chains of a pair err independently; 1 means they all agree, right or wrong.

    >>> round(chain_error_correlation([[1, 1, 1, 1], [0, 0, 0, 0]] * 5), 3)
    1.0
    >>> abs(chain_error_correlation([[1, 0, 1, 0]] * 10)) < 0.5
    True
    """
    groups = [np.asarray(g, dtype=float) for g in correct if len(g) >= 2]
    if len(groups) < 2:
        return float("nan")
    n_total = sum(g.size for g in groups)
    grand = np.concatenate(groups).mean()
    ss_between = sum(g.size * (g.mean() - grand) ** 2 for g in groups)
    ss_within = sum(((g - g.mean()) ** 2).sum() for g in groups)
    df_between = len(groups) - 1
    df_within = n_total - len(groups)
    if df_within <= 0:
        return float("nan")
    ms_between = ss_between / df_between
    ms_within = ss_within / df_within
    # The average group size, corrected for unequal sizes (Snedecor & Cochran).
    k0 = (n_total - sum(g.size**2 for g in groups) / n_total) / df_between
    denom = ms_between + (k0 - 1) * ms_within
    return float((ms_between - ms_within) / denom) if denom > 0 else float("nan")
