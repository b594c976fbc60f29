"""The one wave driver: fixed k is one wave, auto is waves; recovery, finishing, the async seam."""

from __future__ import annotations

import ast
import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from fake_engine import FakeEngine

from grm import JudgeConfig, JudgeRequest, RewardModel
from grm.driver import WaveDriver, arun, execute, judge_batch, run
from grm.judge import EngineError, EngineOp, Generate
from grm.templates import get_template
from grm.types import Result


def alternating(prompt: str, i: int) -> str:
    """A split judge: every request stays undecided, so k='auto' runs every wave."""
    return "Final verdict: [[A]]" if i % 2 == 0 else "Final verdict: [[B]]"


def reqs(n: int = 2) -> list[JudgeRequest]:
    return [JudgeRequest(f"q{i}?", (f"a{i}", f"b{i}")) for i in range(n)]


class FailOnCall(FakeEngine):
    """Raises ``exc`` on the ``nth`` call of ``method`` (1-based)."""

    def __init__(self, method: str, nth: int, exc: BaseException, script=alternating, **kw):  # type: ignore[no-untyped-def]
        super().__init__(script, **kw)
        self.method, self.nth, self.exc, self.seen = method, nth, exc, 0

    def _tick(self, method: str) -> None:
        if method == self.method:
            self.seen += 1
            if self.seen == self.nth:
                raise self.exc

    def generate(self, requests, sampling):  # type: ignore[no-untyped-def]
        self._tick("generate")
        return super().generate(requests, sampling)

    def choice_logprobs(self, prompts, choices):  # type: ignore[no-untyped-def]
        self._tick("choice_logprobs")
        return super().choice_logprobs(prompts, choices)


def outcome(r: Result) -> tuple[object, ...]:
    return (r.winner, r.votes, r.ties, r.abstentions, r.k_used, [c.order for c in r.chains])


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_fixed_k_is_one_wave_of_the_same_loop(k: int) -> None:
    template = get_template("default")
    fixed = FakeEngine(alternating)
    got = judge_batch(fixed, template, reqs(3), JudgeConfig(k=k))
    assert [c for c in fixed.calls if c[0] == "generate"] == [("generate", 3 * min(k, 2))]
    waves = FakeEngine(alternating)
    cfg = JudgeConfig(k="auto", stopping="fixed", max_k=k, wave_size=k)
    same = judge_batch(waves, template, reqs(3), cfg)
    assert [outcome(r) for r in got] == [outcome(r) for r in same]
    assert all(r.stopped_by is None and r.extra == {} for r in got)
    assert all(r.stopped_by == "max_k" for r in same)


def test_failure_in_a_later_wave_keeps_every_earlier_chain() -> None:
    engine = FailOnCall("generate", 3, RuntimeError("engine died"))
    rm = RewardModel(engine)
    with pytest.raises(EngineError, match="while sampling for 4 prompts.*kept in .results") as info:
        rm.compare_batch(reqs(2), k="auto", max_k=16, wave_size=4)
    results = info.value.results
    assert results is not None and [r.k_used for r in results] == [8, 8]
    assert all(r.votes == (4, 4) and r.extra["waves"] == 2 for r in results)
    assert isinstance(info.value.cause, RuntimeError)


def test_forcing_failure_in_a_later_wave_keeps_both_waves() -> None:
    def second_wave_unparsed(prompt: str, i: int) -> str:
        waves = sum(1 for c in engine.calls if c[0] == "generate")
        return "still thinking..." if waves >= 2 else alternating(prompt, i)

    engine = FailOnCall("choice_logprobs", 1, RuntimeError("boom"), script=second_wave_unparsed)
    with pytest.raises(EngineError, match="forcing verdicts") as info:
        RewardModel(engine).compare_batch(reqs(1), k="auto", max_k=8, wave_size=4)
    (r,) = info.value.results or []
    assert r.k_used == 8 and r.votes == (2, 2) and r.abstentions == 4


def test_first_wave_sampling_failure_has_no_results() -> None:
    engine = FailOnCall("generate", 1, MemoryError())
    with pytest.raises(EngineError, match="Out of memory") as info:
        RewardModel(engine).compare_batch(reqs(2), k=4)
    assert info.value.results is None


class Doubler:
    """A calibrator that is easy to see: p -> p / 2."""

    def __call__(self, p: float) -> float:
        return p / 2


class LikesA:
    """A meta RM that trusts chains whose verdict line says A."""

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        return [5.0 if t.endswith("Verdict: A") else -5.0 for t in texts]


def test_recovered_results_are_finished_like_any_other() -> None:
    engine = FailOnCall("generate", 2, RuntimeError("gone"))
    rm = RewardModel(engine, meta_rm=LikesA())
    rm.calibrator = Doubler()  # type: ignore[assignment]
    with pytest.raises(EngineError) as info:
        rm.compare_batch(reqs(1), k="auto", max_k=8, wave_size=4, k_meta=2)
    (r,) = info.value.results or []
    assert r.calibrated and r.k_meta == 2 and r.aggregator == "meta_vote(majority)"
    ok = RewardModel(FakeEngine(alternating), meta_rm=LikesA())
    ok.calibrator = Doubler()  # type: ignore[assignment]
    (full,) = ok.compare_batch(reqs(1), k=4, k_meta=2)
    assert full.calibrated and full.k_meta == 2 and full.probability == r.probability


class BrokenTemplate(type(get_template("default"))):  # type: ignore[misc]
    def parse(self, text: str, n: int):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("a bug in the parser")


def test_a_logic_bug_is_not_reported_as_an_engine_failure() -> None:
    with pytest.raises(ZeroDivisionError, match="a bug in the parser"):
        RewardModel(FakeEngine(alternating), template=BrokenTemplate()).compare("q", "a", "b", k=2)


def test_async_runner_gives_the_same_results() -> None:
    template = get_template("default")
    cfg = JudgeConfig(k="auto", max_k=8)
    engine_a = FakeEngine(alternating)
    driver_a = WaveDriver(engine_a, template, reqs(2), cfg)
    sync = run(driver_a.steps(), lambda op: execute(engine_a, op))
    engine_b = FakeEngine(alternating)
    seen: list[str] = []

    async def call(op: EngineOp) -> object:
        seen.append(type(op).__name__)
        await asyncio.sleep(0)
        if isinstance(op, Generate):  # one awaited call per GenRequest, as an AsyncLLM would
            parts = [engine_b.generate([r], op.sampling)[0] for r in op.requests]
            return parts
        return engine_b.choice_logprobs(op.prompts, op.choices)

    driver = WaveDriver(engine_b, template, reqs(2), cfg)
    got = asyncio.run(arun(driver.steps(), call))
    assert [outcome(r) for r in got] == [outcome(r) for r in sync]
    assert seen == ["Generate"] * 2


def test_async_runner_recovers_like_the_sync_one() -> None:
    template = get_template("default")

    async def call(op: EngineOp) -> object:
        raise ConnectionError("server went away")

    driver = WaveDriver(FakeEngine(alternating), template, reqs(1), JudgeConfig(k=2))
    with pytest.raises(EngineError, match="ConnectionError: server went away"):
        asyncio.run(arun(driver.steps(), call))


def test_bad_input_fails_before_any_engine_call() -> None:
    engine = FakeEngine(alternating)
    with pytest.raises(ValueError, match="budget=3 is below"):
        WaveDriver(engine, get_template("default"), reqs(2), JudgeConfig(k="auto", budget=3))
    assert engine.calls == []


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_import_circle_between_judge_adaptive_and_driver() -> None:
    root = Path(__file__).resolve().parents[1] / "grm"
    assert not {"grm.driver", "grm.adaptive"} & _imports(root / "judge.py")
    assert not {"grm.driver", "grm.judge"} & _imports(root / "adaptive.py")
    model = (root / "model.py").read_text()
    assert len(re.findall(r'k == "auto"', model)) == 0  # the auto switch lives in the driver
