"""The runnable examples in the pure modules' docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "grm.parsing",
    "grm.aggregation",
    "grm.attacks",
    "grm.templates.base",
    "grm.judge",
    "grm.verdicts",
    "grm.forcing",
    "grm.adaptive",
    "grm.stopping",
    "grm.meta",
    "grm.jobs.ids",
    "grm.rows.shapes",
    "grm.rows.transcripts",
    "grm.progress",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
