"""Calibrators and calibration / bias metrics (pure functions over arrays), and their plots.

Installs as ``grm.calibration``; it imports only numpy, scipy and the core (plots import
matplotlib lazily).
"""

from grm.calibration.calibrators import (
    CALIBRATOR_FILE,
    Calibrator,
    calibrator_names,
    cross_validate,
    get_calibrator,
    load_calibrator,
    register_calibrator,
    save_calibrator,
)
from grm.calibration.metrics import (
    brier,
    calibration_summary,
    ece,
    first_slot_rate,
    log_loss,
    longer_win_rate,
    reliability_bins,
    roc_auc,
    swap_consistency,
    win_rate_by_length,
)

__all__ = [
    "CALIBRATOR_FILE",
    "Calibrator",
    "brier",
    "calibration_summary",
    "calibrator_names",
    "cross_validate",
    "ece",
    "first_slot_rate",
    "get_calibrator",
    "load_calibrator",
    "log_loss",
    "longer_win_rate",
    "register_calibrator",
    "reliability_bins",
    "roc_auc",
    "save_calibrator",
    "swap_consistency",
    "win_rate_by_length",
]
