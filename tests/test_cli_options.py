"""Config from one source: flags from JudgeConfig, UNSET vs None, unknown names, JSON options."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

import pytest
from fake_engine import FakeEngine
from grm.inference.base import Generation, GenRequest, SamplingConfig

from grm import UNSET, JudgeConfig, RewardModel
from grm.cli import build_parser
from grm.cli.options import config_overrides, engine_options, field_docs
from grm.config import UnknownOptionError


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["judge", *argv])


def test_every_config_field_is_a_flag_with_its_docstring_as_help() -> None:
    judge = next(
        a
        for a in build_parser()._subparsers._group_actions[0].choices.items()  # type: ignore[union-attr]
        if a[0] == "judge"
    )[1]
    flags = {a.dest: a for a in judge._actions}
    docs = field_docs(JudgeConfig)
    for f in dataclasses.fields(JudgeConfig):
        assert f.name in flags, f.name
        assert docs[f.name] and flags[f.name].help.startswith(docs[f.name][:40]), f.name
        assert "(default: " in flags[f.name].help


def test_unset_flags_keep_the_config_defaults() -> None:
    assert config_overrides(parse("--prompt", "q"), JudgeConfig) == {}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--k", "auto", "--max-k", "8"], {"k": "auto", "max_k": 8}),
        (["--temperature", "none"], {"temperature": None}),
        (["--temperature", "0.5", "--no-shuffle"], {"temperature": 0.5, "shuffle": False}),
        (["--aggregator", "sum", "--stopping", "sprt"], {"aggregator": "sum", "stopping": "sprt"}),
        (["--tip-words", "Wait, Hmm"], {"tip_words": ("Wait", "Hmm")}),
        (
            ["--on-unparsed", "abstain", "--budget", "none"],
            {"on_unparsed": "abstain", "budget": None},
        ),
    ],
)
def test_flags_parse_to_config_values(argv: list[str], expected: dict[str, object]) -> None:
    got = config_overrides(parse(*argv), JudgeConfig)
    assert got == expected
    JudgeConfig(**got)  # and they validate


@pytest.mark.parametrize("argv", [["--k", "lots"], ["--aggregator", "best"], ["--max-k", "x"]])
def test_bad_flag_values_are_rejected(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)


class Recorder(FakeEngine):
    def __init__(self) -> None:
        super().__init__(lambda p, i: "Final verdict: [[A]]")
        self.temperatures: list[float] = []

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        self.temperatures.append(sampling.temperature)
        return super().generate(requests, sampling)


def test_none_per_call_clears_a_load_time_setting_and_unset_keeps_it() -> None:
    engine = Recorder()
    rm = RewardModel(engine, config=JudgeConfig(temperature=0.3, k=2))
    rm.compare("q?", "a", "b")
    rm.compare("q?", "a", "b", temperature=UNSET)
    rm.compare("q?", "a", "b", temperature=None)  # back to the template's own temperature
    assert engine.temperatures == [0.3, 0.3, rm.template.default_temperature]


@pytest.mark.parametrize(
    "call",
    [
        lambda rm: rm.compare("q?", "a", "b", temprature=0.5),
        lambda rm: rm.score_batch([{"prompt": "q", "responses": ["a"]}], max_token=5),
        lambda rm: rm.config.with_(wave=3),
        lambda rm: JudgeConfig.from_options(seeed=1),
    ],
)
def test_unknown_options_list_the_valid_names(call) -> None:  # type: ignore[no-untyped-def]
    rm = RewardModel(Recorder())
    with pytest.raises(UnknownOptionError, match=r"did you mean .*; valid names: .*max_tokens"):
        call(rm)


def test_unknown_option_is_a_type_and_a_value_error() -> None:
    with pytest.raises(TypeError):
        JudgeConfig.from_options(bogus=1)
    with pytest.raises(ValueError):
        JudgeConfig.from_options(bogus=1)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (["tensor_parallel_size=2"], {"tensor_parallel_size": 2}),
        (["enforce_eager=true", "dtype=bfloat16"], {"enforce_eager": True, "dtype": "bfloat16"}),
        (["gpu_memory_utilization=0.3"], {"gpu_memory_utilization": 0.3}),
        (['extra={"quantization": "fp8"}'], {"extra": {"quantization": "fp8"}}),
        (["urls=http://h1:8000,http://h2:8000"], {"urls": "http://h1:8000,http://h2:8000"}),
        (['urls=["http://h1:8000"]'], {"urls": ["http://h1:8000"]}),
        (["max_model_len=null"], {"max_model_len": None}),
    ],
)
def test_engine_options_are_json_values(pairs: list[str], expected: dict[str, object]) -> None:
    assert engine_options(pairs) == expected


def test_engine_option_without_equals_names_the_fix() -> None:
    with pytest.raises(ValueError, match="must be KEY=VALUE, e.g. tensor_parallel_size=2"):
        engine_options(["tensor_parallel_size"])


def test_a_trl_reward_rejects_a_misspelled_judge_override_at_construction() -> None:
    from grm.adapters.trl import TRLRewardConfig

    with pytest.raises(
        UnknownOptionError, match=r"override 'max_tokns' \(did you mean 'max_tokens'"
    ):
        TRLRewardConfig(overrides={"max_tokns": 8})


@pytest.mark.parametrize(
    ("argv", "module", "expected"),
    [
        (["eval", "d.jsonl", "--k", "4", "--max-tokens", "8"], "grm.cli.eval", {"max_tokens": 8}),
        (
            ["serve", "--k", "4", "--max-k", "32", "--temperature", "0.2"],
            "grm.cli.serve",
            {"temperature": 0.2},
        ),
    ],
)
def test_a_commands_own_flags_never_reach_the_judge_config(
    argv: list[str], module: str, expected: dict[str, object]
) -> None:
    import importlib

    own = importlib.import_module(module).OWN_FLAGS
    args = build_parser().parse_args(argv)
    assert config_overrides(args, JudgeConfig, skip=own) == expected
