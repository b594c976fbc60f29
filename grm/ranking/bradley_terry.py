"""Ratings from pairwise outcomes: Bradley-Terry (MAP fit, bootstrap CIs) and Elo. Pure math.

An outcome is a record ``(i, j, s)``: candidates ``i`` and ``j`` met and ``i`` scored ``s``
(1 a win, 0 a loss, 0.5 a tie). Ties count as half a win for each side, the usual reduction
(Rao & Kupper's tie model is not worth its extra parameter for a handful of chains).

The Bradley-Terry fit maximises the pairwise log-likelihood with L-BFGS-B and an analytic
gradient, plus a small L2 term: without it, a candidate that won every game has a maximum
likelihood rating of +infinity (Zermelo 1929; Hunter 2004, "MM algorithms for generalized
Bradley-Terry models", condition for a finite MLE), and the ratings have no fixed origin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Record = tuple[int, int, float]

#: Default L2 weight: large enough to keep an unbeaten candidate finite, small enough that a
#: handful of games still moves the ratings (a N(0, 1/l2) prior on each log-strength).
DEFAULT_L2 = 0.05


def win_matrix(n: int, records: Sequence[Record]) -> np.ndarray:
    """``W[i, j]``: how often ``i`` beat ``j``, a tie adding 0.5 to both directions.

    >>> win_matrix(2, [(0, 1, 1.0), (0, 1, 0.5)]).tolist()
    [[0.0, 1.5], [0.5, 0.0]]
    """
    w = np.zeros((n, n))
    for i, j, s in records:
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"record ({i}, {j}, {s}) names a bad pair for {n} candidates.")
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"record ({i}, {j}, {s}): the score must be in [0, 1].")
        w[i, j] += s
        w[j, i] += 1.0 - s
    return w


def bt_objective(theta: np.ndarray, wins: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    """Negative penalised log-likelihood and its gradient.

    ``-sum_ij W[i,j] log sigmoid(t_i - t_j) + l2/2 |t|^2``; with ``M = W * sigmoid(t_j - t_i)``
    the gradient is ``-(M.sum(1) - M.sum(0)) + l2 t``.
    """
    d = theta[:, None] - theta[None, :]
    # log sigmoid(d) = -log(1 + exp(-d)), computed stably.
    nll = float(np.sum(wins * np.logaddexp(0.0, -d))) + 0.5 * l2 * float(theta @ theta)
    m = wins * (1.0 / (1.0 + np.exp(d)))
    grad = -(m.sum(axis=1) - m.sum(axis=0)) + l2 * theta
    return nll, grad


def bt_fit(wins: np.ndarray, l2: float = DEFAULT_L2) -> np.ndarray:
    """Bradley-Terry log-strengths from a win matrix, centred to mean 0.

    ``P(i beats j) = sigmoid(t_i - t_j)``.

    >>> t = bt_fit(np.array([[0.0, 3.0], [1.0, 0.0]]), l2=0.0)
    >>> round(float(t[0] - t[1]), 3)  # log(3 / 1)
    1.099
    """
    wins = np.asarray(wins, dtype=float)
    n = wins.shape[0]
    if wins.shape != (n, n):
        raise ValueError(f"wins must be a square matrix, got shape {wins.shape}.")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}.")
    if n == 0:
        return np.zeros(0)
    from scipy.optimize import minimize  # imported here: scipy costs most of `import grm`

    res = minimize(
        bt_objective,
        np.zeros(n),
        args=(wins, l2),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 500, "gtol": 1e-9},
    )
    theta = np.asarray(res.x, dtype=float)
    return theta - theta.mean()


def bt_bootstrap(
    n: int,
    records: Sequence[Record],
    l2: float = DEFAULT_L2,
    samples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of each rating: resample the records, refit.

    Returns ``(low, high)`` arrays. With no records both are zeros.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}.")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}.")
    if not records:
        return np.zeros(n), np.zeros(n)
    rng = np.random.default_rng(seed)
    arr = list(records)
    fits = np.empty((samples, n))
    for b in range(samples):
        idx = rng.integers(0, len(arr), size=len(arr))
        fits[b] = bt_fit(win_matrix(n, [arr[i] for i in idx]), l2)
    tail = (1.0 - level) / 2.0 * 100.0
    return np.percentile(fits, tail, axis=0), np.percentile(fits, 100.0 - tail, axis=0)


def elo_ratings(
    n: int,
    records: Sequence[Record],
    k_factor: float = 16.0,
    scale: float = 400.0,
    permutations: int = 16,
    seed: int = 0,
) -> np.ndarray:
    """Online Elo over the records, averaged over shuffled orders, centred to mean 0.

    Elo depends on the order games are played in; games judged in one batch have no order,
    so the ratings are averaged over ``permutations`` seeded shuffles (Chatbot Arena's
    bootstrap Elo does the same to remove order effects).
    """
    if k_factor <= 0 or scale <= 0 or permutations < 1:
        raise ValueError(
            f"k_factor and scale must be > 0 and permutations >= 1, got {k_factor}, "
            f"{scale}, {permutations}."
        )
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    arr = list(records)
    for _ in range(permutations):
        r = np.zeros(n)
        for idx in rng.permutation(len(arr)):
            i, j, s = arr[idx]
            expected = 1.0 / (1.0 + 10.0 ** ((r[j] - r[i]) / scale))
            r[i] += k_factor * (s - expected)
            r[j] -= k_factor * (s - expected)
        total += r
    mean = total / permutations
    return mean - mean.mean() if n else mean


def win_rates(n: int, records: Sequence[Record]) -> np.ndarray:
    """Share of games each candidate won, ties half; 0.5 for a candidate that never played.

    >>> win_rates(3, [(0, 1, 1.0), (0, 2, 0.5)]).tolist()
    [0.75, 0.0, 0.5]
    """
    won = np.zeros(n)
    played = np.zeros(n)
    for i, j, s in records:
        won[i] += s
        won[j] += 1.0 - s
        played[i] += 1
        played[j] += 1
    return np.where(played > 0, won / np.maximum(played, 1), 0.5)


def order_by(scores: Sequence[float]) -> tuple[int, ...]:
    """Indices best first; equal scores keep index order (stable)."""
    return tuple(sorted(range(len(scores)), key=lambda i: (-scores[i], i)))
