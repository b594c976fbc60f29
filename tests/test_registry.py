"""The one registry: duplicates, lookups, replacement, factory errors surfacing as themselves."""

from __future__ import annotations

import pytest
from grm.calibration.calibrators import CALIBRATORS
from grm.inference.base import ENGINES, load_engine
from grm.training.rewards import REWARD_FUNCS
from grm.training.tasks import TASKS

from grm.aggregation import AGGREGATORS
from grm.ranking.base import RANK_METHODS
from grm.ranking.rewards import GROUP_REWARDS
from grm.registry import Registry
from grm.stopping import STOPPING_RULES
from grm.templates import get_template, register_template
from grm.templates.base import TEMPLATES

ALL = [
    (TEMPLATES, "default"),
    (ENGINES, "transformers"),
    (AGGREGATORS, "majority"),
    (STOPPING_RULES, "beta"),
    (RANK_METHODS, "knockout"),
    (GROUP_REWARDS, "win_rate"),
    (CALIBRATORS, "isotonic"),
    (REWARD_FUNCS, "verdict"),
    (TASKS, "addition"),
]


@pytest.mark.parametrize(("registry", "known"), ALL, ids=[r.kind for r, _ in ALL])
def test_every_registry_is_the_shared_one(registry: Registry, known: str) -> None:
    assert isinstance(registry, Registry)
    assert known in registry and known in registry.names()
    with pytest.raises(
        ValueError, match=f"{registry.kind} 'nope' is unknown; choose one of .*{known}"
    ):
        registry.get("nope")
    with pytest.raises(
        ValueError, match="already registered; pick another name or pass replace=True"
    ):
        registry.register(known, registry.get(known))


def test_replace_and_unregister() -> None:
    reg: Registry[int] = Registry("number")
    reg.register("one", 1)
    reg.register("one", 11, replace=True)
    assert reg.get("one") == 11 and dict(reg) == {"one": 11} and len(reg) == 1
    reg.unregister("one")
    assert "one" not in reg and reg.names() == []
    with pytest.raises(ValueError, match="non-empty string"):
        reg.register("", 2)


def test_decorator_returns_the_function() -> None:
    reg: Registry[object] = Registry("thing")

    @reg.register("f")
    def f() -> int:
        return 3

    assert reg.get("f") is f and f() == 3


def test_error_inside_a_template_constructor_surfaces_as_itself() -> None:
    @register_template("boom-test")
    class Boom(type(get_template("default"))):  # type: ignore[misc]
        def __init__(self) -> None:
            raise KeyError("inner key")

    try:
        with pytest.raises(KeyError, match="inner key"):
            get_template("boom-test")
    finally:
        TEMPLATES.unregister("boom-test")


def test_error_inside_an_engine_factory_surfaces_as_itself() -> None:
    def broken(model: str, **options: object) -> object:
        raise KeyError("missing config key")

    ENGINES.register("broken-test", broken)
    try:
        with pytest.raises(KeyError, match="missing config key"):
            load_engine("broken-test", "m")
    finally:
        ENGINES.unregister("broken-test")


def test_engine_names_are_checked_like_the_rest() -> None:
    with pytest.raises(ValueError, match="engine 'vlm' is unknown; choose one of .*vllm"):
        load_engine("vlm", "m")
