"""The evaluation harness and grm calibrate: data shapes, metrics on a scripted judge, CLI."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from conftest import JUDGEBENCH
from fake_engine import FakeEngine
from grm.calibration import get_calibrator, load_calibrator, save_calibrator

from grm import RewardModel
from grm.cli import main
from grm.eval_metrics import ChainRecord, accuracy_vs_k, balanced_subset, majority, rb_score
from grm.evaluation import EvalConfig, evaluate, load_items, write_report
from grm.model import _calibrator_path


def slot_text(prompt: str, slot: str) -> str:
    m = re.search(rf"<response_{slot}>\n(.*?)\n</response_{slot}>", prompt, re.S)
    assert m, prompt
    return m.group(1)


def right_judge(prompt: str, i: int) -> str:
    return "Final verdict: [[A]]" if "GOOD" in slot_text(prompt, "A") else "Final verdict: [[B]]"


def first_slot_judge(prompt: str, i: int) -> str:
    return "Final verdict: [[A]]"


def rewardbench_rows(n: int) -> list[dict[str, str]]:
    return [
        {
            "prompt": f"q{i}?",
            "chosen": f"GOOD {i}",
            "rejected": f"bad {i} " * (i + 1),
            "subset": "math" if i % 2 else "chat",
        }
        for i in range(n)
    ]


def test_rewardbench_rows_place_the_chosen_by_a_seeded_coin() -> None:
    items = load_items(rewardbench_rows(20), seed=3)
    assert {it.label for it in items} == {0, 1}
    for it in items:
        assert it.request.responses[it.label].startswith("GOOD")
    again = load_items(rewardbench_rows(20), seed=3)
    assert [it.label for it in items] == [it.label for it in again]
    assert {it.group for it in items} == {"math", "chat"}


def test_judgebench_file_and_limit(tmp_path: Path) -> None:
    rows = [
        {
            "pair_id": f"p{i}",
            "question": "q?",
            "response_A": "a",
            "response_B": "b",
            "label": "A>B" if i % 3 else "B>A",
            "source": "s",
        }
        for i in range(10)
    ]
    path = tmp_path / "jb.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items = load_items(path)
    assert [it.label for it in items[:4]] == [1, 0, 0, 1] and items[0].id == "p0"
    subset = load_items(path, limit=4, seed=1)
    assert len(subset) == 4 and subset == load_items(path, limit=4, seed=1)
    rows[0]["label"] = "A=B"
    with pytest.raises(ValueError, match="label must be 'A>B' or 'B>A'"):
        load_items(rows)
    with pytest.raises(ValueError, match="expected prompt/chosen/rejected"):
        load_items([{"text": "x"}])


def test_scores_and_resampling_helpers() -> None:
    assert (rb_score(0, 0), rb_score(None, 0), rb_score(1, 0)) == (1.0, 0.5, 0.0)
    ab = [ChainRecord(0, 0), ChainRecord(0, 0), ChainRecord(1, 1), ChainRecord(1, "tie")]
    assert majority(ab) == 0 and majority(ab[2:]) == 1 and majority([ChainRecord(0, None)]) is None
    sub = balanced_subset(ab, 2, random.Random(0))
    assert sorted(c.first for c in sub) == [0, 1]
    # A judge that always picks the first slot: 1 chain is right half the time; 2 tie.
    biased = [[ChainRecord(0, 0), ChainRecord(1, 1)] for _ in range(200)]
    curve = accuracy_vs_k(biased, [0] * 200, 2, resamples=20)
    assert [p["k"] for p in curve] == [1, 2]
    assert curve[0]["accuracy"] == pytest.approx(0.5, abs=0.06)
    assert curve[1] == {"k": 2, "accuracy": 0.5, "stderr": 0.0, "strict": 0.0}


def test_harness_on_a_scripted_judge(tmp_path: Path) -> None:
    rm = RewardModel(FakeEngine(right_judge))
    items = load_items(rewardbench_rows(12))
    report = evaluate(rm, items, EvalConfig(k=4, batch_size=5, resamples=10), progress=False)
    assert report["accuracy"] == report["strict_accuracy"] == 1.0
    assert [p["accuracy"] for p in report["accuracy_vs_k"]] == [1.0, 1.0, 1.0]
    assert report["by_group"]["math"]["n"] == 6
    assert report["position"]["swap_consistency"] == 1.0
    assert report["position"]["first_slot_rate"] == pytest.approx(0.5)
    assert report["rates"] == {"abstention": 0.0, "forced": 0.0, "tie": 0.0, "none": 0.0}
    # The chosen is always the shorter here, so the judge never prefers the longer.
    assert report["length"]["longer_win_rate"] == 0.0
    paths = write_report(report, tmp_path / "out")
    assert json.loads(paths["report"].read_text())["n"] == 12
    assert paths["accuracy_vs_k"].stat().st_size > 0 and paths["reliability"].stat().st_size > 0


def test_first_slot_judge_scores_half_and_is_never_swap_consistent() -> None:
    rm = RewardModel(FakeEngine(first_slot_judge))
    report = evaluate(rm, load_items(rewardbench_rows(10)), EvalConfig(k=2), progress=False)
    assert report["accuracy"] == 0.5 and report["strict_accuracy"] == 0.0
    assert report["position"] == {
        "first_slot_rate": 1.0,
        "swap_consistency": 0.0,
        "pairs_in_both_orders": 10,
    }
    assert report["rates"]["tie"] == 1.0


def fake_report(tmp_path: Path, model: str | None) -> Path:
    rng = random.Random(0)
    items = []
    for i in range(60):
        p = rng.choice([1 / 6, 2 / 6, 0.5, 4 / 6, 5 / 6])
        items.append(
            {
                "id": str(i),
                "label": 0 if rng.random() < 0.5 + (p - 0.5) / 3 else 1,
                "p_raw": p,
                "p": p,
                "calibrated": False,
            }
        )
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"k": 4, "judge": {"model": model}, "items": items}))
    return path


def test_calibrate_cli_fits_with_cross_validation(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    report = fake_report(tmp_path, None)
    assert main(["calibrate", str(report)]) == 2  # no model directory in the report
    assert "pass --out" in capsys.readouterr().err
    out = tmp_path / "cal.json"
    assert main(["calibrate", str(report), "--method", "temperature", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "held-out" in printed and "saved" in printed
    meta = json.loads(out.read_text())["meta"]
    assert meta["n"] == 60 and meta["folds"] == 5
    # An over-confident judge: held-out log-loss falls after temperature scaling.
    assert meta["held_out_after"]["log_loss"] < meta["held_out_before"]["log_loss"]
    # Saved beside a model directory when the report names one.
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    assert main(["calibrate", str(fake_report(tmp_path, str(model_dir)))]) == 0
    assert _calibrator_path(model_dir, None) == model_dir / "grm_calibration.json"
    assert _calibrator_path(model_dir, False) is None
    assert _calibrator_path(tmp_path / "nowhere", None) is None
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _calibrator_path(model_dir, tmp_path / "missing.json")


def test_reward_model_applies_a_calibrator(tmp_path: Path) -> None:
    cal = get_calibrator("temperature")
    cal.set_params({"temperature": 2.0})
    path = save_calibrator(cal, tmp_path / "c.json")
    rm = RewardModel(FakeEngine(right_judge), calibrator=load_calibrator(path))
    v = rm.compare("q?", "GOOD", "bad", k=4)
    raw = RewardModel(FakeEngine(right_judge)).compare("q?", "GOOD", "bad", k=4)
    assert v.calibrated and not raw.calibrated
    assert raw.probability == pytest.approx(5 / 6)
    assert v.probability == pytest.approx(cal(5 / 6)) and 0.5 < v.probability < 5 / 6


@pytest.mark.slow
def test_grm_eval_end_to_end_on_judgebench(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    if not JUDGEBENCH.is_file():
        pytest.skip(f"{JUDGEBENCH} is not present")
    # The three shortest JudgeBench rows keep the CPU prefill small.
    rows = [json.loads(line) for line in JUDGEBENCH.open()]
    rows.sort(key=lambda r: len(r["question"]) + len(r["response_A"]) + len(r["response_B"]))
    data = tmp_path / "judgebench-3.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows[:3]))
    out = tmp_path / "eval"
    argv = [
        "eval",
        str(data),
        "--k",
        "2",
        "--max-tokens",
        "16",
        "--engine",
        "transformers",
        "--batch-size",
        "3",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 3 and [p["k"] for p in report["accuracy_vs_k"]] == [1, 2]
    assert all(it["k_used"] == 2 for it in report["items"])
    assert report["tokens"]["completion"] > 0 and report["seconds"] > 0
    assert (out / "accuracy_vs_k.png").stat().st_size > 0
    assert (out / "reliability.png").stat().st_size > 0
    assert "accuracy (ties 0.5)" in capsys.readouterr().out
