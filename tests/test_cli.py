"""``grm judge`` as a user runs it: a real process, the real default model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

GRM = [sys.executable, "-m", "grm.cli"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GRM, *args], input=stdin, capture_output=True, text=True, timeout=600)


def test_help_lists_the_registered_commands() -> None:
    out = run("--help")
    assert out.returncode == 0 and "judge" in out.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["judge"], None, "give --prompt"),
        (["judge", "--input", "-"], "not json", "--input is not valid JSON"),
        (["judge", "--input", "-"], '{"prompt": "q", "responses": []}', "responses must be"),
        (
            ["judge", "--prompt", "q", "-r", "a", "-r", "b", "--template", "nope"],
            None,
            "template 'nope' is unknown",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(args: list[str], stdin: str | None, message: str) -> None:
    out = run(*args, stdin=stdin)
    assert out.returncode == 2
    assert message in out.stderr


@pytest.mark.slow
def test_judge_example_json_with_the_base_model(default_model_path: Path) -> None:
    # The main job's own judge is tests/test_main_job.py's; "embedded" still names the base.
    args = ["--engine", "transformers", "--model", "embedded", "--k", "2", "--max-tokens", "32"]
    out = run("judge", "--example", *args, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["k_used"] == 2 and result["engine"] == "transformers"
    assert result["model"] == "embedded"
    assert result["winner"] in ("A", "B", "tie")
    assert sum(result["votes"]) + result["ties"] + result["abstentions"] == 2
    assert result["completion_tokens"] > 0


@pytest.mark.slow
def test_judge_stdin_pointwise_text(default_model_path: Path) -> None:
    item = {"prompt": "What is 3 + 4?", "responses": ["7", "8", "6"]}
    out = run(
        "judge",
        "--input",
        "-",
        "--engine",
        "transformers",
        "--k",
        "2",
        "--max-tokens",
        "24",
        stdin=json.dumps(item),
    )
    assert out.returncode == 0, out.stderr
    assert "scores:" in out.stdout and "k used: 2" in out.stdout
