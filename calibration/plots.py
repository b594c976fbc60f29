"""Plots of an evaluation: accuracy versus k, and the reliability diagram.

matplotlib is imported inside each function (the ``eval`` extra), with the Agg backend, so
plots render on a headless machine.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grm.calibration.metrics import reliability_bins


def _pyplot() -> Any:
    if importlib.util.find_spec("matplotlib") is None:
        raise ImportError("plots need matplotlib: pip install 'grm[eval]'.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_vs_k(
    curves: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path, title: str = ""
) -> Path:
    """One line per curve name; points are dicts with ``k``, ``accuracy`` and ``stderr``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, points in curves.items():
        ks = [p["k"] for p in points]
        acc = [100 * p["accuracy"] for p in points]
        err = [100 * p.get("stderr", 0.0) for p in points]
        ax.errorbar(ks, acc, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (chains per pair)")
    ax.set_ylabel("accuracy (%)")
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.set_title(title or "Accuracy versus k")
    return _finish(fig, ax, path)


def plot_reliability(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | Path,
    n_bins: int = 10,
    title: str = "",
) -> Path:
    """Reliability diagram: observed frequency against mean predicted probability per bin.

    ``series`` maps a name to ``(probs, labels)``; the marker size follows the bin count.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect")
    for name, (probs, labels) in series.items():
        bins = reliability_bins(probs, labels, n_bins, "width")
        if not bins:
            continue
        total = sum(b.count for b in bins)
        ax.plot(
            [b.confidence for b in bins], [b.accuracy for b in bins], "-", alpha=0.6, label=name
        )
        ax.scatter(
            [b.confidence for b in bins],
            [b.accuracy for b in bins],
            s=[20 + 300 * b.count / total for b in bins],
            alpha=0.7,
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(A better)")
    ax.set_ylabel("observed frequency of A better")
    ax.set_title(title or "Reliability diagram")
    return _finish(fig, ax, path)


def _finish(fig: Any, ax: Any, path: str | Path) -> Path:
    """Grid, legend and layout shared by both plots; write the PNG and free the figure."""
    import matplotlib.pyplot as plt

    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
