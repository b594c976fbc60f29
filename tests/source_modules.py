"""The modules of the installed packages, found from the source tree without importing it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# pyproject.toml's package-dir: inference/, training/ and calibration/ install under grm.
PACKAGE_DIRS = {
    "grm": ROOT / "grm",
    "grm.inference": ROOT / "inference",
    "grm.training": ROOT / "training",
    "grm.calibration": ROOT / "calibration",
}


def module_files() -> dict[str, Path]:
    """Every module of the installed packages, by dotted name."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            # A sub-package mapped to its own folder (grm.inference) wins over grm/inference.
            found.setdefault(name, path)
    return found
