"""Progress bars of long runs: the counts and chains/s they report, and when they show."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from fake_engine import FakeEngine
from test_evaluation import rewardbench_rows, right_judge
from test_jobs import picks_42, rb_rows, write_jsonl

import grm
from grm import RewardModel
from grm.cli import build_parser
from grm.evaluation import EvalConfig, evaluate, load_items
from grm.model import PROGRESS_BATCH
from grm.progress import ChainProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def last_line(text: str) -> str:
    return re.split(r"[\r\n]", text.strip())[-1]


def reported(text: str) -> tuple[int, int, int, float]:
    """(done, total, chains, chains/s) from the bar's last refresh."""
    m = re.search(r"(\d+)/(\d+) .*?(\d+) chains, ([\d.]+) chains/s", last_line(text))
    assert m, text
    return int(m[1]), int(m[2]), int(m[3]), float(m[4])


def test_bar_reports_items_chains_and_their_rate() -> None:
    out = io.StringIO()
    ticks = iter([0.0, 2.0, 4.0, 5.0])
    with ChainProgress(5, "t", "pair", True, file=out, clock=lambda: next(ticks)) as bar:
        bar.update(3, chains=24)  # at t=2
        bar.update(2, chains=16)  # at t=4: 40 chains in 4 s
        assert bar.chains_per_second == 40 / 5.0  # asked at t=5
    assert reported(out.getvalue()) == (5, 5, 40, 10.0)


@pytest.mark.parametrize(
    ("progress", "tty", "shown"),
    [(None, False, False), (None, True, True), (True, False, True), (False, True, False)],
)
def test_bar_shows_on_a_terminal_unless_forced_either_way(
    progress: bool | None, tty: bool, shown: bool
) -> None:
    out = Terminal() if tty else io.StringIO()
    with ChainProgress(2, "t", "pair", progress, file=out) as bar:
        bar.update(2, chains=4)
    assert bool(out.getvalue()) is shown


def test_compare_batch_bar_counts_every_pair_and_chain(capsys: pytest.CaptureFixture) -> None:
    engine = FakeEngine(right_judge)
    rm = RewardModel(engine)
    items = load_items(rewardbench_rows(PROGRESS_BATCH + 6))
    start = time.perf_counter()
    results = rm.compare_batch([it.request for it in items], k=2, progress=True)
    wall = time.perf_counter() - start
    done, total, chains, rate = reported(capsys.readouterr().err)
    assert (done, total) == (len(items), len(items))
    assert chains == sum(r.k_used for r in results) == 2 * len(items)
    assert rate >= round(chains / wall, 1) - 0.1  # measured inside the call, so not slower
    calls = sum(1 for name, _ in engine.calls if name == "generate")
    assert calls == 2  # one engine pass per batch of PROGRESS_BATCH pairs

    # Without progress: one pass, nothing on stderr, the same verdicts.
    engine.calls.clear()
    again = rm.compare_batch([it.request for it in items], k=2)
    assert sum(1 for name, _ in engine.calls if name == "generate") == 1
    assert capsys.readouterr().err == ""
    assert [r.winner for r in again] == [r.winner for r in results]


def test_eval_and_label_bars_count_chains(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rm = RewardModel(FakeEngine(right_judge))
    report = evaluate(
        rm, load_items(rewardbench_rows(12)), EvalConfig(k=4, batch_size=5), progress=True
    )
    assert reported(capsys.readouterr().err)[:3] == (12, 12, 4 * 12)
    assert report["n"] == 12

    src = write_jsonl(tmp_path / "in.jsonl", rb_rows(7))
    rm = RewardModel(FakeEngine(picks_42))
    s = grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, batch_size=3, progress=True)
    err = capsys.readouterr().err
    assert "grm label" in err
    assert reported(err)[:3] == (7, 7, s.chains) and s.chains == 14
    grm.label(src, tmp_path / "out2.jsonl", rm=rm, k=2, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("flags", "want"), [([], None), (["--progress"], True), (["--quiet"], False)]
)
@pytest.mark.parametrize("command", ["label", "rank", "eval"])
def test_cli_progress_flags(command: str, flags: list[str], want: bool | None) -> None:
    args = [command, "data.jsonl", *(["--out", "o.jsonl"] if command != "eval" else [])]
    assert build_parser().parse_args([*args, *flags]).progress is want
