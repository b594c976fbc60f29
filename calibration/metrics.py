"""Calibration and bias metrics: pure functions over arrays of probabilities and outcomes.

Throughout, ``probs[i]`` is the predicted probability that item i's outcome is 1 (for a
pairwise judge: P(response A is better)) and ``labels[i]`` is that outcome, 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Binning = Literal["width", "mass"]
_EPS = 1e-12


def _arrays(probs: Sequence[float], labels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=float)
    y = np.asarray(labels, dtype=float)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(
            f"probs and labels must be 1-D and the same length, got {p.shape} and {y.shape}."
        )
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1 or np.isnan(p).any()):
        raise ValueError("probs must lie in [0, 1] with no NaN; drop items without a probability.")
    if y.size and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1.")
    return p, y


@dataclass(frozen=True)
class Bin:
    """One bin of a reliability diagram."""

    lower: float
    upper: float
    count: int
    confidence: float
    """Mean predicted probability in the bin."""
    accuracy: float
    """Observed frequency of outcome 1 in the bin."""


def bin_edges(
    probs: Sequence[float] | np.ndarray, n_bins: int = 10, binning: Binning = "width"
) -> np.ndarray:
    """Bin edges over [0, 1]: equal width, or equal mass (quantiles of ``probs``).

    Equal-mass edges are the ``j / n_bins`` quantiles, so each bin holds about N / n_bins
    items (Nixon et al. 2019, "Measuring Calibration in Deep Learning": adaptive ECE).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}.")
    if binning == "width":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if binning == "mass":
        p = np.asarray(probs, dtype=float)
        if p.size == 0:
            return np.linspace(0.0, 1.0, n_bins + 1)
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
        edges[0], edges[-1] = 0.0, 1.0
        return np.unique(edges)
    raise ValueError(f"binning must be 'width' or 'mass', got {binning!r}.")


def reliability_bins(
    probs: Sequence[float], labels: Sequence[float], n_bins: int = 10, binning: Binning = "width"
) -> list[Bin]:
    """The non-empty bins of a reliability diagram (upper edges inclusive, first bin closed)."""
    p, y = _arrays(probs, labels)
    edges = bin_edges(p, n_bins, binning)
    idx = np.clip(np.searchsorted(edges, p, side="left") - 1, 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        mask = idx == b
        if mask.any():
            out.append(
                Bin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    int(mask.sum()),
                    float(p[mask].mean()),
                    float(y[mask].mean()),
                )
            )
    return out


def ece(
    probs: Sequence[float], labels: Sequence[float], n_bins: int = 10, binning: Binning = "width"
) -> float:
    """Expected calibration error: ``ECE = sum_b (n_b / N) * |acc_b - conf_b|``.

    ``conf_b`` is the mean predicted probability in bin b and ``acc_b`` the frequency of
    outcome 1 there (Naeini et al. 2015; Guo et al. 2017). ``binning`` is 'width' (equal-width
    bins on [0, 1]) or 'mass' (equal-count bins). A perfectly calibrated set scores 0.
    """
    p, _ = _arrays(probs, labels)
    if p.size == 0:
        return float("nan")
    bins = reliability_bins(probs, labels, n_bins, binning)
    return float(sum(b.count * abs(b.accuracy - b.confidence) for b in bins) / p.size)


def brier(probs: Sequence[float], labels: Sequence[float]) -> float:
    """Brier score: ``mean_i (p_i - y_i)^2`` (0 is perfect, 0.25 is a constant 0.5)."""
    p, y = _arrays(probs, labels)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


def log_loss(probs: Sequence[float], labels: Sequence[float], eps: float = _EPS) -> float:
    """Log-loss: ``-mean_i [y_i log p_i + (1 - y_i) log(1 - p_i)]``, p clipped to [eps, 1-eps]."""
    p, y = _arrays(probs, labels)
    if p.size == 0:
        return float("nan")
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def calibration_summary(
    probs: Sequence[float], labels: Sequence[float], n_bins: int = 10
) -> dict[str, float]:
    """ECE (equal width and equal mass), Brier and log-loss in one dict."""
    return {
        "ece": ece(probs, labels, n_bins, "width"),
        "ece_mass": ece(probs, labels, n_bins, "mass"),
        "brier": brier(probs, labels),
        "log_loss": log_loss(probs, labels),
        "n": float(len(probs)),
    }


# ---------------------------------------------------------------- bias metrics


def first_slot_rate(shown_first: Sequence[int], winners: Sequence[int | None]) -> float | None:
    """Share of verdicts for the response shown first: ``#(w_i == f_i) / #(w_i is not None)``.

    An unbiased judge on balanced orders scores about 0.5; MT-Bench (Zheng et al. 2023) found
    strong judges well above it.
    """
    pairs = [(f, w) for f, w in zip(shown_first, winners, strict=True) if w is not None]
    return sum(f == w for f, w in pairs) / len(pairs) if pairs else None


def swap_consistency(
    winners_ab: Sequence[int | None], winners_ba: Sequence[int | None]
) -> float | None:
    """Share of items whose verdict survives swapping the responses' places.

    ``winners_ab[i]`` and ``winners_ba[i]`` are the preferred response (original index) when
    item i was shown as (A, B) and as (B, A); items where either is None (tie or no verdict)
    count as inconsistent. ``consistency = #(w_ab == w_ba != None) / N`` (MT-Bench's swap test).
    """
    pairs = list(zip(winners_ab, winners_ba, strict=True))
    if not pairs:
        return None
    return sum(a is not None and a == b for a, b in pairs) / len(pairs)


def longer_win_rate(
    length_a: Sequence[int], length_b: Sequence[int], winners: Sequence[int | None]
) -> float | None:
    """Share of decided, unequal-length pairs where the judge preferred the longer response.

    ``#(winner is the longer) / #(winner not None and len_a != len_b)``; 0.5 means no length
    preference (verbosity bias: Saito et al. 2023; Dubois et al. 2024).
    """
    n = won = 0
    for la, lb, w in zip(length_a, length_b, winners, strict=True):
        if w is None or la == lb:
            continue
        n += 1
        won += int((w == 0) == (la > lb))
    return won / n if n else None


def win_rate_by_length(
    length_diff: Sequence[float], a_won: Sequence[float], n_bins: int = 5
) -> list[dict[str, float]]:
    """Win rate of response A against the length difference ``len(A) - len(B)``.

    Equal-mass bins of the difference; per bin the mean difference and the mean of
    ``a_won`` (1 won, 0 lost, 0.5 tie). A flat curve means no length bias.
    """
    d = np.asarray(length_diff, dtype=float)
    w = np.asarray(a_won, dtype=float)
    if d.size == 0:
        return []
    edges = np.unique(np.quantile(d, np.linspace(0, 1, n_bins + 1)))
    if len(edges) < 2:
        return [{"diff": float(d.mean()), "win_rate": float(w.mean()), "count": float(d.size)}]
    idx = np.clip(np.searchsorted(edges, d, side="right") - 1, 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        m = idx == b
        if m.any():
            out.append(
                {
                    "diff": float(d[m].mean()),
                    "win_rate": float(w[m].mean()),
                    "count": float(m.sum()),
                }
            )
    return out


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error ``s / sqrt(n)`` (0 for fewer than two values)."""
    n = len(values)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def roc_auc(scores: Sequence[float], labels: Sequence[float]) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative.

    Computed from ranks (Mann-Whitney U), tied scores sharing their average rank, so a tie
    between a positive and a negative counts half. Scores may be any real numbers (logits).
    NaN when one class is absent.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> roc_auc([0.5, 0.5], [0, 1])
    0.5
    """
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(
            f"scores and labels must be 1-D and the same length, got {s.shape} and {y.shape}."
        )
    if y.size and not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1.")
    if np.isnan(s).any():
        raise ValueError("scores must not hold NaN; drop items without a score.")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(s)  # average ranks for ties
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))
