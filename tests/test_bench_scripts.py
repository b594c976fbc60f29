"""The commands in scripts/ are thin: they import the package, never each other, and each
parses its options (``--help`` exits 0 without loading a model)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_scripts_import_the_package_not_each_other(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names = {p.stem for p in SCRIPTS}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom | ast.Import):
            mods = (
                [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            )
            assert not {m.split(".")[0] for m in mods if m} & names, path.name
    assert "sys.path" not in path.read_text(), path.name


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_every_script_parses_its_options(path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [path.name, "--help"])
    with pytest.raises(SystemExit) as exc:
        module.main()
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out
