"""The benchmark harness (grm.benchmarks) and the docs rendered from its records.

The render check runs here so CI fails when docs/benchmarks.md or docs/serving.md drifts from
docs/records/.
"""

from __future__ import annotations

import argparse
import doctest
import importlib
import json
from pathlib import Path

import pytest

from grm.benchmarks import record, render
from grm.benchmarks.cli import add_common, engine_options
from grm.benchmarks.replay import plan_ordered_votes, replay_rules
from grm.benchmarks.stored import chain_records, compare, load_set, sets

ROOT = Path(__file__).resolve().parents[1]
SCALING = ROOT / "docs" / "bench_scaling.json"


@pytest.mark.parametrize("doc", ["benchmarks.md", "serving.md"])
def test_docs_match_their_records(doc: str) -> None:
    assert render.main([str(ROOT / "docs" / doc), "--check"]) == 0


def _doc(tmp_path: Path, body: str) -> Path:
    (tmp_path / "records").mkdir()
    rec = {"kind": "compare_judges", "args": {"title": "A - B"}}
    rec["figures"] = {"rows": [{"k": 1, "diff": 0.05, "low": -0.01, "high": 0.1}]}
    (tmp_path / "records" / "cmp.json").write_text(json.dumps(rec))
    doc = tmp_path / "doc.md"
    doc.write_text(body)
    return doc


def test_render_replaces_only_the_region_and_check_fails_until_rendered(tmp_path: Path) -> None:
    prose = "# Title\n\nHand-written prose | with a pipe.\n\n"
    doc = _doc(
        tmp_path, prose + "<!-- record: cmp compare -->\n| stale |\n<!-- /record -->\nEnd.\n"
    )
    args = [str(doc), "--records", str(tmp_path / "records")]
    assert render.main([*args, "--check"]) == 1
    assert render.main(args) == 0
    text = doc.read_text()
    assert text.startswith(prose) and text.endswith("<!-- /record -->\nEnd.\n")
    assert "| A - B | +5.0 [-1.0, +10.0] |" in text and "stale" not in text
    assert render.main([*args, "--check"]) == 0


def test_a_table_without_a_region_or_a_note_fails_the_check(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "Text.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert render.main([str(doc), "--records", str(tmp_path / "records"), "--check"]) == 1
    doc.write_text("*(Figures typed from the run's output; raw output not kept.)*\n\n| a |\n")
    assert render.main([str(doc), "--records", str(tmp_path / "records"), "--check"]) == 0


def test_an_unknown_view_names_the_choices(tmp_path: Path) -> None:
    doc = _doc(tmp_path, "<!-- record: cmp nosuch -->\n<!-- /record -->\n")
    with pytest.raises(ValueError, match="unknown record view 'nosuch'; choose from"):
        render.main([str(doc), "--records", str(tmp_path / "records")])


def test_a_run_record_holds_command_commit_machine_load_and_figures(tmp_path: Path) -> None:
    run = record.Run("t", kind="unit", args={"k": 4}, argv=["bench.py", "--k", "4"])
    run.figures["accuracy"] = record.figure([1.0, 0.0, 1.0, 1.0] * 5)
    run.items.append({"pair": 0, "score": 1.0})
    saved = json.loads(run.save(tmp_path / "t.json").read_text())
    assert saved["command"] == "bench.py --k 4" and saved["args"] == {"k": 4}
    assert saved["git_commit"] and len(saved["git_commit"].split("+")[0]) == 40
    assert saved["machine"]["cores"] >= 1 and saved["machine"]["cpu"]
    assert len(saved["load_average"]["start"]) == 3 and len(saved["load_average"]["end"]) == 3
    fig = saved["figures"]["accuracy"]
    assert fig["n"] == 20 and fig["mean"] == 0.75 and fig["low"] < 0.75 < fig["high"]
    assert saved["items"] == [{"pair": 0, "score": 1.0}]
    assert "\n" not in (tmp_path / "t.json").read_text().rstrip("\n")  # compact: one line


def test_figure_of_nothing_has_no_interval() -> None:
    assert record.figure([]) == {"mean": None, "n": 0, "low": None, "high": None}


def test_common_options_take_per_command_defaults_and_settings() -> None:
    p = argparse.ArgumentParser()
    add_common(p, "engine", "k", k=4, model={"action": "append", "required": True})
    a = p.parse_args(["--model", "x", "--model", "y"])
    assert (a.engine, a.k, a.model) == ("vllm", 4, ["x", "y"])
    with pytest.raises(ValueError, match="unknown common option 'kk'"):
        add_common(p, "kk")


def test_engine_options_parse_json_and_name_the_bad_one() -> None:
    ns = argparse.Namespace(engine_option=["max_model_len=4096", "dtype=bfloat16"])
    assert engine_options(ns) == {"max_model_len": 4096, "dtype": "bfloat16"}
    with pytest.raises(ValueError, match="--engine-option takes KEY=JSON, got 'oops'"):
        engine_options(argparse.Namespace(engine_option=["oops"]))


def test_replay_of_stored_chains_gives_the_stored_rows() -> None:
    """The stored chains, put back in plan order and replayed, give the figures the report
    holds (bench_scaling.py wrote them from the live chains)."""
    data = json.loads(SCALING.read_text())
    label, run, _, s = next(sets(data))
    args = run["args"]
    ordered = plan_ordered_votes(s["pairs"], args["max_k"], args["seed"], args["batch_size"])
    labels = [p["label"] for p in s["pairs"]]
    stored = {r["rule"]: r for r in s["replayed"] if r["wave_size"] == 2 and r["confidence"] == 0.9}
    # The rules the report was written with (rules registered since are not in it).
    rows = replay_rules(ordered, labels, [2], [0.9], args["max_k"], args["seed"], None, stored)
    assert len(rows) >= 5 and {r["rule"] for r in rows} == set(stored)
    for r in rows:
        assert r == stored[r["rule"]], (label, r["rule"])


def test_compare_reproduces_the_documented_difference_and_refuses_other_pairs() -> None:
    a = load_set(f"{SCALING}:sft+grpo-lora")
    b = load_set(f"{SCALING}:grm-judge-135m")
    (row,) = compare(a, b, [1])
    assert f"{100 * row['diff']:+.1f} [{100 * row['low']:+.1f}, {100 * row['high']:+.1f}]" == (
        "-0.3 [-2.2, +1.7]"
    )
    other = load_set(f"{SCALING}:grm-judge-135m, pairs 51-100")
    with pytest.raises(ValueError, match="do not hold the same pairs"):
        compare(a, other, [1])
    assert len(chain_records(a)) == 300


def test_rules_score_each_split_and_judges_agree_only_on_their_own_pairs() -> None:
    from grm.benchmarks.cue_rules import measure

    rows = [
        {"responses": ["Sure, here is how.", "Sorry, no."], "preferred": 1},
        {"responses": ["Go ahead and do it now.", "Ok."], "preferred": 0},
    ]
    judges = {
        "name": "j",
        "items": [{"label": 1, "a_kmax": 1.0}, {"label": 0, "a_kmax": 0.5}],
        "figures": {"judges": {"a": {}}},
    }
    got = measure(rows, rows, judges)
    acc = {(r["rule"], r["split"]): r["accuracy"]["mean"] for r in got["rules"]}
    assert acc == {
        ("shorter", "train"): 0.5,
        ("shorter", "held-out"): 0.5,
        ("pushback-else-shorter", "train"): 0.5,
        ("pushback-else-shorter", "held-out"): 0.5,
    }
    # the judge: right on the first pair (as both rules), a tie on the second (both wrong)
    assert [r["share"]["mean"] for r in got["agreement"]] == [0.75, 0.75]
    judges["items"][1]["label"] = 1
    with pytest.raises(ValueError, match="not on this config's held-out pairs"):
        measure(rows, rows, judges)


DOCTESTED = [
    "grm.benchmarks.record",
    "grm.benchmarks.cli",
    "grm.benchmarks.data",
    "grm.benchmarks.replay",
    "grm.benchmarks.stored",
    "grm.benchmarks.scaling_report",
    "grm.benchmarks.render",
    "grm.benchmarks.timing",
    "grm.benchmarks.serving",
    "grm.benchmarks.meta_vote",
    "grm.benchmarks.cue_rules",
    "grm.benchmarks.cpu_dtype",
    "grm.benchmarks.train_log",
]


@pytest.mark.parametrize("name", DOCTESTED)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_scaling_tables_read_a_report_with_and_without_a_real_auto_run() -> None:
    from grm.benchmarks.scaling_report import tables

    data = json.loads(SCALING.read_text())
    with_run = data["grm-judge-135m"]
    without = json.loads(json.dumps(with_run))
    for sets_ in without["judges"].values():
        sets_["suite"].pop("auto_run")
    assert " (run) |" in tables(with_run) and " (run) |" not in tables(without)


def test_a_checkpoint_gets_its_training_seconds_from_its_runs_metrics(tmp_path: Path) -> None:
    from grm.benchmarks.heldout import checkpoint_seconds

    ckpt = tmp_path / "checkpoints-sft" / "checkpoint-50"
    ckpt.mkdir(parents=True)
    assert checkpoint_seconds(ckpt) is None  # no metrics.jsonl: not a logged run
    lines = [
        {"stage": "sft", "event": "train_begin", "step": 0},
        {"stage": "sft", "step": 50, "time_s": 1200.5, "loss": 0.3},
        {"stage": "grpo", "step": 50, "time_s": 99.0},
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert checkpoint_seconds(ckpt) == 1200.5
    assert checkpoint_seconds(tmp_path / "checkpoints-sft" / "checkpoint-60") is None
    assert checkpoint_seconds(tmp_path / "elsewhere" / "checkpoint-50") is None


def _judged(label: str, k1: list[float], kmax: list[float], labels: list[int]) -> dict:
    figs = {"mean": sum(kmax) / len(kmax), "n": len(kmax), "low": 0.0, "high": 1.0}
    return {
        "name": "old",
        "command": f"judge {label}",
        "figures": {
            "judges": {label: {"k1": figs, "kmax": figs, "parsed_rate": 1.0, "seconds": 1.0}},
            "diff": {},
        },
        "items": [
            {"label": y, f"{label}_k1": a, f"{label}_kmax": b}
            for y, a, b in zip(labels, k1, kmax, strict=True)
        ],
    }


def test_a_new_record_takes_one_judge_and_differences_from_it() -> None:
    from grm.benchmarks.heldout import add_judge, judges_table, resume
    from grm.eval_metrics import ChainRecord

    labels = [0, 1, 0, 1]
    old = _judged("base", [0.5] * 4, [0.5] * 4, labels)
    old["figures"]["judges"]["other"] = old["figures"]["judges"]["base"]
    for it in old["items"]:
        it["other_k1"] = it["other_kmax"] = 0.0
    run = record.Run("curve", "eval_heldout", {})
    scores = resume(run, old, labels, only="")
    assert list(scores) == ["base"] and run.figures["diff"] == {}
    assert run.data["command"].startswith("(judge base from record old) && ")
    # Every chain right: one point per pair over the base's half.
    chains = [[ChainRecord(y, y), ChainRecord(y, y)] for y in labels]
    ckpt = "runs/x/checkpoints-sft/checkpoint-50"
    add_judge(run, scores, "steps-50", ckpt, (chains, 0, 1), labels)
    assert run.figures["diff"]["steps-50"]["kmax"]["mean"] == pytest.approx(0.5)
    assert set(run.items[0]) == {"label", "base_k1", "base_kmax", "steps-50_k1", "steps-50_kmax"}
    # No judge is a logged checkpoint here, so the table keeps its six columns.
    assert judges_table(run.figures, 2).splitlines()[0].count("|") == 7
    run.figures["judges"]["steps-50"]["train_seconds"] = 600.0
    table = judges_table(run.figures, 2).splitlines()
    assert table[0].endswith("training minutes |") and table[3].endswith("| 10.0 |")
    assert all(line.count("|") == 8 for line in table)
    with pytest.raises(ValueError, match="other pairs"):
        resume(run, old, [1, 1, 0, 1], only="")
    # A named judge becomes the reference instead of the first.
    again = record.Run("rft", "eval_heldout", {})
    assert list(resume(again, old, labels, only="other")) == ["other"]
    assert again.data["command"].startswith("(judge other from record old) && ")
    with pytest.raises(ValueError, match="no judge 'nope'; it has base, other"):
        resume(again, old, labels, only="nope")


def test_the_transfer_view_checks_the_first_sets_pick_on_the_second() -> None:
    # The bundled judge's two stored 300-pair sets: the setting picked on the first (SPRT at
    # 0.8, 28% of the chains, +2.0) loses 5.2 points on the second, as docs/benchmarks.md says.
    docs = Path(__file__).resolve().parents[1] / "docs" / "records"
    table = render.from_records(docs)(["scaling-sft", "scaling-sft-pairs51-100"], "transfer")
    lines = table.splitlines()
    assert lines[2].startswith("| fixed k=16 | - | - | 67.0 [62.0, 72.0] | - | 100% | 69.5")
    picked = [line for line in lines if line.startswith("| **")]
    assert len(picked) == 1 and "| 28% | 64.3 [58.8, 69.5] | -5.2 [-9.8, -0.8] | 27% |" in picked[0]


def test_the_transfer_view_takes_a_third_set() -> None:
    # The second RFT round's judge: bayes at 0.95 in waves of one, picked on the first set
    # under its fitted prior, checked on sets two and three (docs/benchmarks.md).
    docs = Path(__file__).resolve().parents[1] / "docs" / "records"
    names = ["replay-rft-verified2", "replay-rft-verified2-2", "replay-rft-verified2-3"]
    lines = render.from_records(docs)(names, "transfer").splitlines()
    assert lines[0].count("set: accuracy") == 3 and lines[1].count("---") == 12
    picked = [line for line in lines if line.startswith("| **")]
    assert len(picked) == 1 and picked[0].startswith("| **bayes** | **1** | **0.95** |")
    assert picked[0].endswith(
        "| +0.0 [-2.5, +2.5] | 36% | 76.7 [71.7, 81.3] | +0.5 [-2.0, +2.8] | 36% |"
    )
    with pytest.raises(ValueError, match="2 to 5 sets"):
        render.from_records(docs)(names[:1], "transfer")


def test_the_auto_run_view_sets_a_real_run_beside_fixed_k() -> None:
    # The first bundled judge's real k="auto" run on the second set (SPRT 0.8, waves of 2):
    # 6.5 points below k=16 with 26% of the chains; an older record has no paired difference.
    docs = Path(__file__).resolve().parents[1] / "docs" / "records"
    table = render.from_records(docs)(["scaling-sft", "scaling-sft-pairs51-100"], "auto_run")
    old, new = table.splitlines()[2:]
    assert "| sprt | 2 | 0.9 | 65.2 [60.3, 69.8] | - | 65% |" in old
    assert new.endswith("| sprt | 2 | 0.8 | 63.0 [57.5, 68.5] | -6.5 [-12.7, -0.5] | 26% | 360 |")


def test_the_points_view_lists_each_records_k1_and_chain_accuracy() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "records"
    table = render.from_records(docs)(["scaling-sft", "scaling-sft-pairs51-100"], "points")
    rows = table.splitlines()[2:]
    assert len(rows) == 2
    assert (
        rows[0].startswith("| scaling-sft | ")
        and "| 300 | 58.8 [56.5, 61.1] | 58.0 | 0.09 |" in rows[0]
    )
    assert rows[1].startswith("| scaling-sft-pairs51-100 | ")


def test_the_rounds_view_shows_each_rounds_counts_and_its_own_timings() -> None:
    # The HH round's stored chains counted twice: under its own rules (30 pairs kept, as
    # docs/benchmarks.md says) and under step verification, where no chain passes; only the
    # first row is the round that ran, so only it carries timings.
    docs = Path(__file__).resolve().parents[1] / "docs" / "records"
    names = ["rft-round-hh-rule-curve", "rft-round-hh-rule-curve-verified"]
    rows = render.from_records(docs)(names, "rounds").splitlines()[2:]
    assert rows[0].startswith(
        "| rft-round-hh-rule-curve | verdict, both orders, sft | 240 | 1920 | 51.3% | 0.0% | 30 "
        "| 60 | 60 | 14.0 | 8.9 |"
    )
    assert rows[1].endswith("| 51.3% | 0.0% | 0 | 0 | - | - | - |")


def test_train_log_record_keeps_the_steps_and_the_difficulty_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GRPO run's metrics.jsonl (the keys TRL logs, as grm's metrics callback writes them)
    becomes a record whose train_steps view averages blocks of four steps."""
    from grm.benchmarks import train_log

    run = tmp_path / "run"
    run.mkdir()
    log = [{"stage": "grpo", "event": "train_begin", "step": 0}]
    for step in range(1, 7):
        log.append(
            {
                "stage": "grpo",
                "step": step,
                "loss": 0.0,
                "reward": step / 10,
                "judge/verified_accuracy": 0.5,
                "frac_reward_zero_std": 0.25,
                "entropy": 0.02,
                "completions/mean_length": 60.0,
                "step_time": 300.0,
            }
        )
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (run / "difficulty.jsonl").write_text(
        '{"right": 2, "n": 4, "kept": true}\n{"right": 0, "n": 4, "kept": false}\n'
    )
    monkeypatch.setattr(record, "RECORDS", tmp_path / "records")
    assert train_log.main([str(run), "--last-step", "5", "--record", "steps"]) == 0
    rec = record.load(tmp_path / "records" / "steps.json")
    assert [s["step"] for s in rec["figures"]["steps"]] == [1, 2, 3, 4, 5]
    assert rec["figures"]["difficulty"] == {"pairs": 2, "kept": 1, "right_share": 0.25}
    table = render.VIEWS["train_steps"]([rec]).splitlines()
    assert table[2].startswith("| steps | 1-4 | +0.25 | 50.0% (verified) | 25% | 0.020 | 60 | 300")
    assert table[3].startswith("| steps | 5-5 | +0.50 |")
    with pytest.raises(SystemExit):
        train_log.main([str(tmp_path), "--record", "x"])  # no metrics.jsonl
