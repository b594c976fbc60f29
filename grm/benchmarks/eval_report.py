"""The ``grm eval`` harness' report with its calibrators cross-validated, as tables.

:func:`calibrate` cross-validates every registered calibrator on a report's raw pair
probabilities (ECE, Brier and log-loss before, and after on held-out folds) and draws the
held-out reliability plot; :func:`tables` prints what docs/benchmarks.md shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def calibrate(report: dict[str, Any], folds: int, seed: int, out: Path, title: str) -> dict:
    """Every calibrator, k-fold cross-validated on the report's scored pairs; writes
    ``calibration_cv.json`` and ``reliability_cv.png`` under ``out``."""
    from grm.calibration import calibrator_names, cross_validate
    from grm.calibration.plots import plot_reliability

    scored = [it for it in report["items"] if it["p_raw"] is not None]
    probs = [float(it["p_raw"]) for it in scored]
    labels = [1.0 if it["label"] == 0 else 0.0 for it in scored]
    cv = {m: cross_validate(m, probs, labels, folds, seed) for m in calibrator_names()}
    plot_reliability(
        {
            "Beta posterior (raw)": (probs, labels),
            "isotonic (held-out folds)": (cv["isotonic"]["oof"], labels),
            "temperature (held-out folds)": (cv["temperature"]["oof"], labels),
        },
        out / "reliability_cv.png",
        title=title,
    )
    for m in cv.values():
        m.pop("oof")
    (out / "calibration_cv.json").write_text(json.dumps(cv, indent=2))
    return cv


def tables(name: str, report: dict[str, Any], cv: dict[str, Any], k: int) -> str:
    """Accuracy versus k, the position and rate line, and the calibrators."""
    avk = report["accuracy_vs_k"]
    pos, rates = report["position"], report["rates"]
    acc = " | ".join(f"{100 * x['accuracy']:.1f} ± {100 * x['stderr']:.1f}" for x in avk)
    lines = [
        f"## {name} on {report['data']} ({report['n']} pairs, k={k})",
        "| k | " + " | ".join(str(x["k"]) for x in avk) + " |",
        "|---|" + "---|" * len(avk),
        f"| accuracy (ties 0.5) | {acc} |",
        "| strict accuracy | " + " | ".join(f"{100 * x['strict']:.1f}" for x in avk) + " |",
        "",
        f"swap consistency {pos['swap_consistency']}, first-slot rate "
        f"{pos['first_slot_rate']}, forced {rates['forced']:.2f}, abstention "
        f"{rates['abstention']:.2f}, ties {rates['tie']:.2f}, longer-win "
        f"{report['length']['longer_win_rate']}, {report['seconds']:.0f} s",
        "",
        "| calibrator | ECE | ECE (mass) | Brier | log-loss |",
        "|---|---|---|---|---|",
    ]
    rows = [("raw (Beta posterior)", cv["beta"]["before"])]
    rows += [(f"{m} (held-out)", r["after"]) for m, r in cv.items() if m != "beta"]
    for label, a in rows:
        lines.append(
            f"| {label} | {a['ece']:.3f} | {a['ece_mass']:.3f} | {a['brier']:.3f} | "
            f"{a['log_loss']:.3f} |"
        )
    return "\n".join(lines) + "\n"
