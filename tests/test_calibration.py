"""Calibration and bias metrics, and calibrators, on hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest
from grm.calibration import (
    brier,
    calibrator_names,
    cross_validate,
    ece,
    first_slot_rate,
    get_calibrator,
    load_calibrator,
    log_loss,
    longer_win_rate,
    reliability_bins,
    save_calibrator,
    swap_consistency,
    win_rate_by_length,
)
from grm.calibration.metrics import bin_edges

# Perfectly calibrated: at 0.2 one of five is positive, at 0.8 four of five.
PERFECT_P = [0.2] * 5 + [0.8] * 5
PERFECT_Y = [1, 0, 0, 0, 0] + [1, 1, 1, 1, 0]


@pytest.mark.parametrize("binning", ["width", "mass"])
def test_perfectly_calibrated_set_has_zero_ece(binning: str) -> None:
    assert ece(PERFECT_P, PERFECT_Y, 10, binning) == pytest.approx(0.0)  # type: ignore[arg-type]


def test_ece_hand_case() -> None:
    # One bin [0.9, 1.0] holding four 0.9s with two positives: |0.5 - 0.9| = 0.4.
    assert ece([0.9] * 4, [1, 1, 0, 0], 10, "width") == pytest.approx(0.4)
    # Two equal-mass bins: {0.1, 0.2} with 1 positive -> |0.5 - 0.15|; {0.7, 0.9} with 1 -> 0.3.
    value = ece([0.1, 0.2, 0.7, 0.9], [1, 0, 0, 1], 2, "mass")
    assert value == pytest.approx(0.5 * 0.35 + 0.5 * 0.3)


def test_equal_mass_bins_hold_equal_counts() -> None:
    p = np.linspace(0.01, 0.99, 100)
    bins = reliability_bins(p, (p > 0.5).astype(float), 4, "mass")
    assert [b.count for b in bins] == [25, 25, 25, 25]
    assert list(bin_edges([], 2, "width")) == [0.0, 0.5, 1.0]


def test_brier_and_log_loss() -> None:
    assert brier([0.5, 0.5], [1, 0]) == pytest.approx(0.25)
    assert brier([1.0, 0.0], [1, 0]) == 0.0
    assert brier([0.8, 0.4], [1, 0]) == pytest.approx((0.04 + 0.16) / 2)
    assert log_loss([0.5, 0.5], [1, 0]) == pytest.approx(np.log(2))
    assert log_loss([0.8, 0.4], [1, 0]) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="same length"):
        ece([0.5], [1, 0])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        brier([1.5], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        log_loss([0.5], [2])


def test_position_and_length_bias() -> None:
    # Shown-first response wins 3 of 4 verdicts; the None verdict is skipped.
    assert first_slot_rate([0, 1, 0, 1, 0], [0, 1, 0, 0, None]) == 0.75
    assert first_slot_rate([], []) is None
    # Same winner in both orders for items 0 and 2; item 3 has a tie in one order.
    assert swap_consistency([0, 1, 1, 0], [0, 0, 1, None]) == 0.5
    # The longer response wins 2 of the 3 decided unequal pairs.
    assert longer_win_rate([10, 5, 8, 7, 3], [5, 9, 2, 7, 1], [0, 1, 1, 0, None]) == pytest.approx(
        2 / 3
    )
    curve = win_rate_by_length([-10, -5, 5, 10], [0, 0, 1, 1], 2)
    assert [c["win_rate"] for c in curve] == [0.0, 1.0]


def test_isotonic_output_is_monotone_and_fits_steps() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p**2).astype(float)
    cal = get_calibrator("isotonic").fit(p, y)
    grid = np.linspace(0, 1, 101)
    out = cal.predict(grid)
    assert np.all(np.diff(out) >= -1e-12)
    assert out.min() > 0 and out.max() < 1
    # On a step function it recovers the step.
    step = get_calibrator("isotonic").fit([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1])
    assert step(0.2) == pytest.approx(1e-4) and step(0.8) == pytest.approx(1 - 1e-4)


def overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True P(y=1) = q, but the judge reports sigmoid(3 * logit(q)): far too sure."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.05, 0.95, size=n)
    y = (rng.uniform(size=n) < q).astype(float)
    z = np.log(q / (1 - q))
    return 1 / (1 + np.exp(-3 * z)), y


def test_temperature_scaling_lowers_log_loss_on_an_overconfident_set() -> None:
    p, y = overconfident()
    cal = get_calibrator("temperature").fit(p, y)
    assert cal.temperature == pytest.approx(3.0, rel=0.15)  # type: ignore[attr-defined]
    assert log_loss(cal.predict(p), y) < log_loss(p, y) - 0.05
    assert ece(cal.predict(p), y) < ece(p, y)


def test_platt_and_cross_validation_improve_held_out_metrics() -> None:
    p, y = overconfident(seed=1)
    platt = get_calibrator("platt").fit(p, y)
    assert platt.a == pytest.approx(1 / 3, rel=0.15)  # type: ignore[attr-defined]
    for name in ("temperature", "platt", "isotonic"):
        cv = cross_validate(name, p, y, folds=5)
        assert cv["after"]["log_loss"] < cv["before"]["log_loss"]
        assert cv["after"]["ece"] < cv["before"]["ece"]
    base = cross_validate("beta", p, y, folds=5)
    assert base["after"]["ece"] == pytest.approx(base["before"]["ece"])


@pytest.mark.parametrize("name", ["beta", "temperature", "platt", "isotonic"])
def test_save_and_load_round_trip(name: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p, y = overconfident(200)
    cal = get_calibrator(name).fit(p, y)
    path = save_calibrator(cal, tmp_path / "cal.json", {"k": 8})
    assert json.loads(path.read_text())["meta"] == {"k": 8}
    again = load_calibrator(path)
    grid = np.linspace(0.01, 0.99, 17)
    assert np.allclose(again.predict(grid), cal.predict(grid))


def test_registry_and_load_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert calibrator_names() == ["beta", "isotonic", "platt", "temperature"]
    with pytest.raises(ValueError, match="choose one of"):
        get_calibrator("histogram")
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="no calibrator 'name'"):
        load_calibrator(bad)
    with pytest.raises(ValueError, match="folds must be"):
        cross_validate("isotonic", [0.5, 0.6], [1, 0], folds=5)
