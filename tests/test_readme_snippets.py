"""The README's code blocks are tests: a snippet that fails as written fails here.

Every fenced ``python`` and ``bash`` block is collected. A block preceded by
``<!-- snippet: skip REASON -->`` is skipped with that reason (GPU-only, multi-node or
two-terminal commands); nothing else is.

- Python blocks run in order in one namespace, as a reader pastes them into one session. The
  names the README leaves to the reader (``prompt``, ``a``, ``b``, ``pairs``, ``candidates``,
  ``messages``) are defined first. In the default suite every ``RewardModel.load`` gets a
  scripted engine (tests/fake_engine.py) with the requested template; the slow test runs the
  same blocks on the embedded model, where a hub id or a GPU engine is named.
- Bash blocks: ``bash -n`` parses each, and every ``grm`` command line in it is parsed by the
  CLI's own parser (a misspelt subcommand or flag fails); ``python -m verl...`` lines have
  their overrides applied to verl's own config (every key must exist).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_SKIP = re.compile(r"<!--\s*snippet:\s*skip\s+(.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Snippet:
    lang: str
    line: int
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.lang}-L{self.line}"


def snippets(text: str) -> list[Snippet]:
    """The README's python and bash blocks, with the skip annotation on the line before."""
    out = []
    for m in _FENCE.finditer(text):
        if m.group(1) not in ("python", "bash"):
            continue
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = _SKIP.search(before)
        line = text[: m.start()].count("\n") + 1
        out.append(Snippet(m.group(1), line, m.group(2), skip.group(1) if skip else None))
    return out


ALL = snippets(README.read_text(encoding="utf-8"))
PYTHON = [s for s in ALL if s.lang == "python"]
BASH = [s for s in ALL if s.lang == "bash"]


def test_the_parser_reads_blocks_and_skips() -> None:
    text = (
        "x\n<!-- snippet: skip needs a GPU -->\n```bash\nls\n```\n```python\n1\n```\n```text\n```\n"
    )
    got = snippets(text)
    assert [(s.lang, s.skip, s.code) for s in got] == [
        ("bash", "needs a GPU", "ls\n"),
        ("python", None, "1\n"),
    ]
    assert len(PYTHON) >= 5 and len(BASH) >= 5  # the README's own blocks were found
    assert all(s.skip for s in ALL if s.skip is not None)  # every skip gives a reason


def reader_names() -> dict[str, Any]:
    """What the README leaves to the reader: a question, two answers, pairs, a conversation."""
    prompt = "What is 17 + 25?"
    return {
        "prompt": prompt,
        "a": "42",
        "b": "43",
        "pairs": [
            {"prompt": prompt, "responses": ["42", "43"]},
            {"prompt": "What is 2 + 2?", "responses": ["5", "4"]},
        ],
        "candidates": ["42", "43", "41", "40"],
        "messages": [
            {"role": "user", "content": "What is 17 + 25?"},
            {"role": "assistant", "content": "42"},
            {"role": "user", "content": "And 42 + 8?"},
            {"role": "assistant", "content": "50"},
        ],
    }


def run_python_blocks(blocks: list[Snippet], workdir: Path) -> None:
    # A template file for the block that loads one by path (`template="my-judge.yaml"`).
    shipped = Path(__file__).resolve().parents[1] / "grm" / "templates" / "files"
    shutil.copy(next(iter(sorted(shipped.glob("*.yaml")))), workdir / "my-judge.yaml")
    ns = reader_names()
    for block in blocks:
        if block.skip:
            continue
        try:
            exec(compile(block.code, f"README.md:{block.line}", "exec"), ns)  # noqa: S102
        except Exception as exc:
            raise AssertionError(
                f"README.md python block at line {block.line} fails as written: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def test_python_blocks_run_on_a_scripted_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fake_engine import FakeEngine
    from fault_engine import verdict_script

    from grm import RewardModel

    def load(model: Any = None, engine: str = "auto", template: Any = None, **kw: Any) -> Any:
        return RewardModel(FakeEngine(verdict_script), template=template or "default")

    monkeypatch.setattr(RewardModel, "load", staticmethod(load))
    monkeypatch.chdir(tmp_path)
    run_python_blocks(PYTHON, tmp_path)


@pytest.mark.slow
def test_python_blocks_run_on_the_embedded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same blocks on the real default model (transformers engine), small budgets: a hub
    id or GPU engine the README names stands for the embedded model here."""
    import grm.model
    from grm import RewardModel
    from grm.judges import judge_names

    real = RewardModel.load.__func__  # type: ignore[attr-defined]

    def load(model: Any = None, engine: str = "auto", template: Any = None, **kw: Any) -> Any:
        local = model is None or str(model) in judge_names() or Path(str(model)).exists()
        kw.pop("engine_options", None)
        return real(
            RewardModel, model if local else None, "transformers", template, max_tokens=16, **kw
        )

    # One engine per checkpoint: a block that loads the same model again (another template)
    # reuses the converted weights; RewardModel.load's own steps all still run.
    engines: dict[tuple[str, str], Any] = {}
    load_engine = grm.model.load_engine

    def shared_engine(name: str, path: str, **options: Any) -> Any:
        if (name, path) not in engines:
            engines[name, path] = load_engine(name, path, **options)
        return engines[name, path]

    monkeypatch.setattr(grm.model, "load_engine", shared_engine)

    monkeypatch.setattr(RewardModel, "load", staticmethod(load))
    monkeypatch.chdir(tmp_path)
    run_python_blocks(PYTHON, tmp_path)


def _commands(code: str) -> list[list[str]]:
    """The command lines of a bash block: continuations joined, comments and ``&&`` split."""
    joined = code.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in line.split("&&"):
            out.append(shlex.split(part))
    return out


def _grm_argv(words: list[str]) -> list[str] | None:
    """The arguments of a grm invocation (``grm``, ``.venv/bin/grm``, ``-m grm.cli``)."""
    for i, w in enumerate(words):
        if w.endswith("/grm") or w == "grm":
            return words[i + 1 :]
        if w == "grm.cli" and i > 0 and words[i - 1] == "-m":
            return words[i + 1 :]
    return None


@pytest.mark.parametrize("block", BASH, ids=[s.id for s in BASH])
def test_bash_blocks_parse_and_name_real_commands(block: Snippet) -> None:
    syntax = subprocess.run(["bash", "-n"], input=block.code, text=True, capture_output=True)
    assert syntax.returncode == 0, f"README.md:{block.line}: {syntax.stderr}"
    from grm.cli import build_parser

    for words in _commands(block.code):
        argv = _grm_argv(words)
        if argv is not None:
            try:
                build_parser().parse_args(argv)
            except SystemExit as exc:
                raise AssertionError(
                    f"README.md:{block.line}: `grm {' '.join(argv)}` is refused by grm's CLI"
                ) from exc
        if words[:3] == ["python", "-m", "verl.trainer.main_ppo"]:
            check_verl_overrides(block, [w for w in words[3:] if "=" in w])


def check_verl_overrides(block: Snippet, overrides: list[str]) -> None:
    pytest.importorskip("verl", reason="verl is not installed (the grm[verl-test] extra)")
    from omegaconf import OmegaConf
    from test_verl_managers import verl_config

    plain = {k: v for k, v in (o.split("=", 1) for o in overrides) if not k.startswith("+")}
    import verl

    base = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    cfg = OmegaConf.load(base)
    missing = [k for k in plain if OmegaConf.select(cfg, k, default="<missing>") == "<missing>"]
    assert not missing, f"README.md:{block.line}: verl has no config key {missing}"
    migrated = verl_config(**{k.replace(".", "__"): v for k, v in plain.items()})
    path = plain.get("custom_reward_function.path")
    if path:
        from verl.utils.import_utils import load_extern_object

        fn = load_extern_object(path, plain["custom_reward_function.name"])
        assert callable(fn)
        assert migrated.reward.custom_reward_function.path == path
