"""The tiered task kinds: valid pairs, answers recomputed here on their own, disjoint splits."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from decimal import Decimal

import pytest
from grm.training.rationales import rationale
from grm.training.task_suite import TIERS, in_eval, near_miss
from grm.training.tasks import SUITE, TASKS, TaskConfig, make_tasks

from grm.templates import get_template

_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}


def _eval(node: ast.AST) -> int:
    """Integer + - * expressions only, evaluated from the syntax tree."""
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    assert isinstance(node, ast.BinOp) and type(node.op) in _OPS, ast.dump(node)
    return _OPS[type(node.op)](_eval(node.left), _eval(node.right))


def _expected(row: dict) -> str:
    """The right answer computed from the item's parameters, independently of the generator."""
    f, task = row["facts"], row["task"]
    if task == "arithmetic":
        return str(_eval(ast.parse(f["expression"], mode="eval")))
    if task == "counting":
        if f["kind"] == "letter":
            return str(sum(1 for ch in f["text"] if ch == f["letter"]))
        return str(len(f["text"].split(", ") if f["kind"] == "items" else f["text"].split()))
    if task == "ordering":
        if f["kind"] == "sort":
            return ", ".join(str(x) for x in sorted(f["numbers"]))
        return max(f["numbers"], key=Decimal)
    if task == "units":
        if f["kind"] == "minutes":
            return str(f["hours"] * 60 + f["minutes"])
        if f["kind"] == "metric":
            factor = {("km", "m"): 1000, ("kg", "g"): 1000, ("m", "cm"): 100}[f["unit"], f["to"]]
            return str(int(Decimal(f["value"]) * factor))
        start = dt.datetime(2000, 1, 1, *f["start"]) + dt.timedelta(minutes=f["duration"])
        return f"{start.hour}:{start.minute:02d}"
    if task == "dates":
        if f["kind"] == "weekday":
            monday = dt.date(2024, 1, 1)  # a Monday
            return (monday + dt.timedelta(days=f["start"] + f["days"])).strftime("%A")
        end = dt.date.fromisoformat(f["start"]) + dt.timedelta(days=f["days"])
        return end.strftime("%B ") + f"{end.day}, {end.year}"
    if task == "code":
        out = subprocess.run(
            [sys.executable, "-c", f["code"]], capture_output=True, text=True, timeout=10
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()
    raise AssertionError(task)


def _n(task: str) -> int:
    return 8 if task == "code" else 60  # each code item runs two interpreters


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("task", SUITE)
def test_every_kind_and_tier_gives_right_and_plausible_wrong(task: str, tier: str) -> None:
    rows = make_tasks(TaskConfig(tasks=(task,), tier=tier), "train", _n(task))
    assert len(rows) == _n(task)
    for row in rows:
        p = row["preferred"]
        assert row["task"] == task and row["tier"] == tier and p in (0, 1)
        assert row["ok"] == [i == p for i in range(2)]
        right, wrong = row["claims"][p], row["claims"][1 - p]
        assert right == _expected(row), row
        assert wrong != right and wrong.strip()
        assert right in row["responses"][p] and wrong in row["responses"][1 - p]
        assert row["prompt"]


@pytest.mark.parametrize("task", SUITE)
def test_train_and_held_out_share_no_item(task: str) -> None:
    cfg = TaskConfig(tasks=(task,), tier="easy", eval_fraction=0.3)
    keys = {
        s: {r["facts"]["key"] for r in make_tasks(cfg, s, 2 * _n(task))} for s in ("train", "eval")
    }
    assert keys["train"] and keys["eval"] and not keys["train"] & keys["eval"]
    assert all(in_eval(k, cfg.seed, cfg.eval_fraction) for k in keys["eval"])


@pytest.mark.parametrize("task", SUITE)
def test_same_seed_same_items_other_seed_other_items(task: str) -> None:
    def rows(seed: int) -> list[dict]:
        return make_tasks(TaskConfig(tasks=(task,), tier="medium", seed=seed), "eval", 6)

    assert rows(4) == rows(4)
    assert rows(4) != rows(5)


def test_phrasings_and_lengths_vary() -> None:
    rows = make_tasks(TaskConfig(tasks=("arithmetic", "counting", "units")), "train", 90)
    lengths = {len(r["responses"][r["preferred"]]) - len(r["claims"][r["preferred"]]) for r in rows}
    assert len({r["prompt"].split()[0] for r in rows}) >= 4 and len(lengths) >= 4


def test_the_full_suite_mixes_all_kinds_with_the_old_ones() -> None:
    cfg = TaskConfig(tasks=("addition", "constraint", *SUITE), tier="hard")
    rows = make_tasks(cfg, "eval", 16)
    assert {r["task"] for r in rows} == {"addition", "constraint", *SUITE}
    assert len(SUITE) >= 6 and all(t in TASKS for t in SUITE)


@pytest.mark.parametrize("task", SUITE)
def test_rationales_of_new_kinds_parse_to_the_preferred(task: str) -> None:
    tpl = get_template("default")
    for row in make_tasks(TaskConfig(tasks=(task,), tier="hard"), "train", 4):
        for order in ((0, 1), (1, 0)):
            text = rationale(row, order)
            assert row["check"] in text
            parsed = tpl.parse(text, 2)
            assert parsed is not None and order[parsed.winner] == row["preferred"]


def test_near_miss_never_returns_the_answer() -> None:
    import random

    rng = random.Random(0)
    assert all(near_miss(a, rng) != a for a in [*range(0, 300), 1085, 10044, -47])


def test_bad_tier_is_named() -> None:
    with pytest.raises(ValueError, match="tier must be one of"):
        TaskConfig(tier="extreme")
