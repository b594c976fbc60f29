"""``grm calibrate``: fit a calibrator to an evaluation report, cross-validated, and save it.

    grm calibrate runs/eval-base/report.json                       # isotonic, beside the model
    grm calibrate report.json --method temperature --out cal.json

The calibrator maps the judge's raw P(A better) (the Beta-posterior mean of the votes) to a
calibrated probability. Metrics before and after come from k-fold cross-validation, so
"after" is always measured on held-out pairs; the saved calibrator is then fitted on all of
them. Saved as ``grm_calibration.json`` in the model directory (RewardModel.load applies it
and sets ``Result.calibrated``), or to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from grm.calibration import (
    CALIBRATOR_FILE,
    calibrator_names,
    cross_validate,
    get_calibrator,
    save_calibrator,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("calibrate", help="fit a calibrator to a grm eval report")
    p.add_argument("report", help="report.json written by grm eval")
    p.add_argument("--method", default="isotonic", choices=calibrator_names())
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", default=None, help=f"calibrator path (default: MODEL_DIR/{CALIBRATOR_FILE})"
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)


def fit_from_report(
    report: dict[str, Any], method: str, folds: int, seed: int
) -> tuple[Any, dict[str, Any]]:
    """Cross-validate ``method`` on the report's pairs, then fit it on all of them."""
    items = [it for it in report.get("items", []) if it.get("p_raw") is not None]
    if len(items) < folds:
        raise ValueError(
            f"the report has {len(items)} pairs with a probability, fewer than --folds={folds}; "
            "evaluate more pairs or lower --folds."
        )
    probs = [float(it["p_raw"]) for it in items]
    labels = [1.0 if it["label"] == 0 else 0.0 for it in items]
    cv = cross_validate(method, probs, labels, folds, seed)
    cal = get_calibrator(method).fit(probs, labels)
    meta = {
        "method": method,
        "folds": folds,
        "n": len(items),
        "k": report.get("k"),
        "model": report.get("judge", {}).get("model"),
        "input": "Beta-posterior mean of the votes (Result.probability before calibration)",
        "held_out_before": cv["before"],
        "held_out_after": cv["after"],
    }
    return cal, meta


def run(args: argparse.Namespace) -> int:
    path = Path(args.report)
    if not path.is_file():
        raise FileNotFoundError(f"report {path} does not exist; write one with grm eval.")
    report = json.loads(path.read_text())
    cal, meta = fit_from_report(report, args.method, args.folds, args.seed)
    out = args.out
    if out is None:
        model = meta.get("model")
        if not model or not Path(model).is_dir():
            raise ValueError(
                f"the report's model {model!r} is not a local directory; pass --out PATH."
            )
        out = Path(model) / CALIBRATOR_FILE
    meta["report"] = str(path)
    saved = save_calibrator(cal, out, meta)
    if args.json:
        print(json.dumps({"calibrator": str(saved), **meta}, indent=2))
        return 0
    b, a = meta["held_out_before"], meta["held_out_after"]
    print(f"{args.method} calibrator, {args.folds}-fold CV on {meta['n']} pairs (held-out folds):")
    for key in ("ece", "ece_mass", "brier", "log_loss"):
        print(f"  {key:9s} {b[key]:.4f} -> {a[key]:.4f}")
    print(f"saved: {saved}")
    return 0
