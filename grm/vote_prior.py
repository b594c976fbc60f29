"""A judge's vote prior and the Bayes-optimal stopping decision it gives (pure math).

Every vote-count stopping rule in :mod:`grm.stopping` asks how sure the current leader is;
none asks whether more chains would *change the accuracy*. For a pair a judge gets right in
half of its chains, sixteen chains are no better than one, and the sure-leader rules spend
all sixteen on it. This module models what a judge's chains look like across requests and
stops when the chains left are not worth their price:

- **The prior.** Each request has a chance ``h`` that one chain names the better response;
  ``h`` varies across requests with a distribution ``f`` on a grid of ``bins`` points
  (midpoints of equal bins of (0, 1)). ``f`` is fitted to labelled chains by EM, the
  nonparametric maximum-likelihood mixing distribution (Laird 1978), from each pair's right
  and wrong chain counts (:func:`fit_prior`). Without a fitted prior the rule uses
  :data:`DEFAULT_PRIOR`, uniform on ``h > 1/2``: the judge is better than a coin.
- **The decision.** With ``v1`` and ``v2`` the votes for the two leading responses, the
  posterior that the leader is the better one is
  ``sum f h^v1 (1-h)^v2 / (sum f h^v1 (1-h)^v2 + sum f (1-h)^v1 h^v2)``, which is the
  accuracy of stopping now (the majority verdict; 1/2 on a tie, RewardBench's score).
  Sampling on is valued by backward induction over every vote count the chains left before
  ``max_k`` can reach (each chain costs ``cost`` accuracy), the optimal stopping rule for
  that trade (DeGroot, *Optimal Statistical Decisions*, 1970, ch. 12). The rule stops when
  stopping now is worth at least as much as going on (:func:`bayes_stop`). The induction
  assumes a check after every chain; in waves of ``w`` chains the rule is asked every ``w``,
  so waves of one are where it is optimal.

The ``bayes`` stopping rule prices a chain at ``(1 - confidence) / max_k``: at 0.95 with
``max_k`` 16, the sixteen chains must buy five points of accuracy to be worth sampling.
Abstentions are no evidence (they are not counted as votes); ties are half a vote each.

>>> p = prior_from([0.0] * 10 + [1.0] * 10)  # the judge is right more often than not
>>> round(leader_posterior(3, 0, p), 3) > round(leader_posterior(2, 1, p), 3) > 0.5
True
>>> bayes_stop(8, 0, 8, p, cost=0.01)[0], bayes_stop(1, 1, 14, p, cost=0.0001)[0]
(True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.special import logsumexp

#: Grid points of a prior unless a fitted prior says otherwise.
DEFAULT_BINS = 20


def grid(bins: int) -> np.ndarray:
    """The chance-right values a prior of ``bins`` weights puts its mass on (bin midpoints)."""
    return (np.arange(bins) + 0.5) / bins


def prior_from(weights: Sequence[float | str] | str) -> tuple[float, ...]:
    """``weights`` over :func:`grid` ``(len(weights))``, checked and normalised to sum 1
    (numbers, numeric strings as the CLI passes them, or one comma-separated string)."""
    if isinstance(weights, str):
        weights = weights.split(",")
    try:
        w = [float(x) for x in weights]
    except (TypeError, ValueError):
        w = []
    if len(w) < 2 or any(not np.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise ValueError(
            f"vote_prior must be two or more non-negative weights with a positive sum, got "
            f"{list(weights)!r}; fit one to a labelled run with scripts/replay_adaptive.py "
            "REPORT.json --prior-from REPORT.json."
        )
    total = sum(w)
    return tuple(x / total for x in w)


DEFAULT_PRIOR = prior_from([0.0] * (DEFAULT_BINS // 2) + [1.0] * (DEFAULT_BINS // 2))
"""Uniform on chance-right above 1/2: the judge beats a coin, by an unknown margin."""


def fit_prior(
    counts: Sequence[tuple[float, float]], bins: int = DEFAULT_BINS, iters: int = 500
) -> tuple[float, ...]:
    """The grid prior that maximises the likelihood of ``counts`` (one ``(right, wrong)``
    chain count per labelled pair), by EM from a uniform start (Laird 1978).

    >>> p = fit_prior([(16, 0)] * 50 + [(8, 8)] * 50, bins=4)  # grid 0.125 0.375 0.625 0.875
    >>> [round(x, 2) for x in p]
    [0.0, 0.05, 0.46, 0.5]
    """
    if not counts:
        raise ValueError("fit_prior needs the chain counts of at least one labelled pair.")
    h = grid(bins)
    c = np.asarray(counts, dtype=float)
    loglik = c[:, [0]] * np.log(h) + c[:, [1]] * np.log1p(-h)
    lik = np.exp(loglik - loglik.max(axis=1, keepdims=True))
    f = np.full(bins, 1.0 / bins)
    for _ in range(iters):
        post = lik * f
        post /= post.sum(axis=1, keepdims=True)
        f = post.mean(axis=0)
    return prior_from(f.tolist())


def _log_sides(v1: np.ndarray, v2: np.ndarray, prior: tuple[float, ...]) -> np.ndarray:
    """log P(votes, leader better) and log P(votes, runner-up better), stacked (2, len)."""
    h = grid(len(prior))
    with np.errstate(divide="ignore"):
        lf = np.log(np.asarray(prior))
    lh, l1h = np.log(h), np.log1p(-h)
    better = v1[:, None] * lh + v2[:, None] * l1h + lf
    worse = v1[:, None] * l1h + v2[:, None] * lh + lf
    return np.stack([logsumexp(better, axis=1), logsumexp(worse, axis=1)])


def leader_posterior(v1: float, v2: float, prior: tuple[float, ...]) -> float:
    """P(the response with ``v1`` votes is the better one | the votes, the prior)."""
    lb, lw = _log_sides(np.array([v1], float), np.array([v2], float), prior)[:, 0]
    return float(1.0 / (1.0 + np.exp(lw - lb)))


def _next_vote(v1: np.ndarray, v2: np.ndarray, prior: tuple[float, ...]) -> np.ndarray:
    """P(the next chain votes for the first response | votes so far), per state."""
    here = np.logaddexp(*_log_sides(v1, v2, prior))
    # One more vote for response 1 under either hypothesis, over the evidence so far.
    there = np.logaddexp(*_log_sides(v1 + 1, v2, prior))
    return np.exp(there - here)


@lru_cache(maxsize=4096)
def bayes_stop(
    v1: float, v2: float, left: int, prior: tuple[float, ...], cost: float
) -> tuple[bool, float]:
    """Whether to stop at votes ``v1`` (the leader's) and ``v2`` with ``left`` chains to go,
    and the accuracy of stopping now; optimal under ``prior`` at ``cost`` per chain.

    Backward induction over the ``(left + 1)(left + 2) / 2`` vote counts the chains left can
    reach: the value of a state is the better of stopping (the majority's posterior accuracy)
    and paying ``cost`` for one more chain; at ``left = 0`` only stopping remains.
    """

    def stop_value(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        lb, lw = _log_sides(a, b, prior)
        right_a = 1.0 / (1.0 + np.exp(lw - lb))  # P(first of the two is better)
        return np.where(a > b, right_a, np.where(a < b, 1.0 - right_a, 0.5))

    now = float(stop_value(np.array([v1], float), np.array([v2], float))[0])
    if left <= 0:
        return True, now
    # Layer s: states reached after s more chains, i of them voting for the first response.
    value = None
    for s in range(left, -1, -1):
        i = np.arange(s + 1, dtype=float)
        a, b = v1 + i, v2 + (s - i)
        sv = stop_value(a, b)
        if value is None:
            value = sv
            continue
        q = _next_vote(a, b, prior)
        go = -cost + q * value[1:] + (1.0 - q) * value[:-1]
        if s == 0:
            return bool(sv[0] >= go[0]), now
        value = np.maximum(sv, go)
    return True, now  # unreachable: the loop returns at s = 0
