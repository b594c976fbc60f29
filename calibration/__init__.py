"""Calibrators and calibration / bias metrics (pure functions over arrays)."""
