"""Every module's runnable docstring examples stay true.

The modules are found, not listed: every module of the installed packages whose source holds
a ``>>>`` example (tests/source_modules.py), so a new example runs without being registered.
Examples marked ``# doctest: +SKIP`` (a model to load, files to read) are shown, not run.
"""

from __future__ import annotations

import doctest
import importlib

import pytest
from source_modules import module_files

WITH_EXAMPLES = sorted(
    name for name, path in module_files().items() if ">>> " in path.read_text(encoding="utf-8")
)


def test_the_modules_with_examples_are_found() -> None:
    assert len(WITH_EXAMPLES) > 40 and {"grm.parsing", "grm.calibration.metrics"} <= set(
        WITH_EXAMPLES
    )


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_doctests(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional dependency (vllm, fastapi, ...) is absent
        if (exc.name or "grm").split(".")[0] == "grm":
            raise
        pytest.skip(f"{name} needs {exc.name}, which is not installed")
    tests = doctest.DocTestFinder().find(module)
    examples = [e for t in tests for e in t.examples]
    # A ">>>" that doctest cannot see (in a comment, or a docstring of no object of the
    # module) never runs: it must move into a docstring.
    assert examples, f"{name} has '>>> ' in its source but no docstring example doctest finds"
    runnable = sum(not e.options.get(doctest.SKIP, False) for e in examples)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted == runnable, result
