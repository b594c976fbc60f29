"""The suite's own rules: no test of the run converts the model unless it is marked slow."""

from __future__ import annotations

import pytest
from conftest import MODEL_FIXTURES


def test_tests_that_convert_the_model_are_marked_slow(request: pytest.FixtureRequest) -> None:
    # The items of this run, after -m selected them: in the fast suite none may use a fixture
    # that converts the model (conftest.pytest_collection_modifyitems marks them slow).
    unmarked = [
        item.nodeid
        for item in request.session.items
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("slow") is None
    ]
    assert not unmarked, unmarked
