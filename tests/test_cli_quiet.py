"""CLI output: library logs and warnings off unless --verbose, grm's own warnings always shown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grm.cli.quiet import QUIET_ENV

GRM = [sys.executable, "-m", "grm.cli"]

# Real transformers logging and Python warnings, configured the way a CLI run configures them.
_PROBE = textwrap.dedent(
    """
    import logging, sys, warnings
    from grm.cli.quiet import configure_output
    configure_output(sys.argv[1] == "verbose")
    from transformers.utils import logging as hf_logging
    hf_logging.get_logger("transformers.generation.utils").warning("hf-advice")
    logging.getLogger("vllm.platforms").warning("vllm-platform-note")
    warnings.warn_explicit("lib-deprecation", FutureWarning, "lib.py", 1, module="torch.lib")
    logging.getLogger("grm.driver").warning("grm-own-warning")
    """
)


def _probe(mode: str) -> str:
    # A fresh process as a shell starts it, whatever this test process's environment holds.
    env = {k: v for k, v in os.environ.items() if k not in QUIET_ENV}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_library_logs_and_warnings_are_hidden_without_verbose() -> None:
    err = _probe("quiet")
    assert "grm-own-warning" in err
    for noise in ("hf-advice", "vllm-platform-note", "lib-deprecation"):
        assert noise not in err, err


def test_verbose_brings_them_back() -> None:
    err = _probe("verbose")
    for line in ("hf-advice", "vllm-platform-note", "lib-deprecation", "grm-own-warning"):
        assert line in err, err


def test_verbose_is_accepted_before_and_after_the_command() -> None:
    from grm.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["judge", "--example"]).verbose is False
    assert parser.parse_args(["-v", "judge", "--example"]).verbose is True
    assert parser.parse_args(["judge", "--example", "--verbose"]).verbose is True


@pytest.mark.slow
def test_judge_example_prints_no_warning_lines_unless_verbose(default_model_path: Path) -> None:
    args = ["judge", "--example", "--engine", "transformers", "--k", "2", "--max-tokens", "16"]
    quiet = subprocess.run([*GRM, *args], capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip()
    # Only grm's own records may remain (here: the main job's bundled judge, cut at 16 tokens,
    # is told to raise max_tokens); nothing from the libraries.
    noise = [ln for ln in quiet.stderr.splitlines() if "WARNING" in ln or "Warning" in ln]
    assert not [ln for ln in noise if not ln.startswith("WARNING grm.")], noise
    loud = subprocess.run([*GRM, *args, "--verbose"], capture_output=True, text=True, timeout=600)
    assert loud.returncode == 0, loud.stderr
    assert [ln for ln in loud.stderr.splitlines() if "WARNING" in ln or "INFO" in ln]


def test_an_in_process_run_leaves_the_process_settings_as_it_found_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging
    import warnings

    from grm.cli import main

    for key in QUIET_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TQDM_DISABLE", "0")  # the user's own setting stays
    logger = logging.getLogger("transformers")
    before = logger.level
    logger.setLevel(logging.INFO)
    filters = list(warnings.filters)
    try:
        assert main(["judge"]) == 2  # a quick command: it stops at the missing --prompt
        assert "give --prompt" in capsys.readouterr().err
        assert "VLLM_LOGGING_LEVEL" not in os.environ and os.environ["TQDM_DISABLE"] == "0"
        assert logger.level == logging.INFO
        assert warnings.filters == filters
    finally:
        logger.setLevel(before)
