"""A user's own preference file: the data check, the length filter and the split by prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grm.training.data_report import format_report
from grm.training.user_data import (
    heldout_bucket,
    prepare,
    read_records,
    split_by_prompt,
)

GOOD = [
    {"question": f"What is {i} + {i}?", "response_A": str(2 * i), "response_B": str(2 * i + 1),
     "label": "A>B" if i % 2 else "A>B"}
    for i in range(40)
]  # fmt: skip


def _user_file(tmp_path: Path) -> Path:
    """A JudgeBench-shaped file as users send them: mostly fine, a few rows broken."""
    rows: list[str] = [json.dumps(r) for r in GOOD]
    rows.insert(3, json.dumps({"question": "q3", "response_A": "a", "label": "A>B"}))  # no B
    rows.insert(7, json.dumps({"question": "q7", "response_A": "  ", "response_B": "b",
                               "label": "B>A"}))  # fmt: skip
    rows.insert(11, json.dumps({"question": "q11", "response_A": "x" * 5000, "response_B": "y",
                                "label": "A>B"}))  # fmt: skip
    rows.insert(15, json.dumps({"question": "q15", "response_A": "a", "response_B": "b",
                                "label": "A=B"}))  # fmt: skip
    rows.insert(19, json.dumps({"question": "q19", "response_A": "a", "response_B": "b",
                                "label": "A>>B"}))  # fmt: skip
    rows.insert(23, '{"question": "broken json", ')
    rows.insert(27, json.dumps({"question": "q27", "response_A": 5, "response_B": "b",
                                "label": "A>B"}))  # fmt: skip
    # The same prompt twice (two pairs for one question) must stay on one side of the split.
    rows.append(json.dumps({"question": "What is 5 + 5?", "response_A": "ten", "response_B": "11",
                            "label": "A>B"}))  # fmt: skip
    path = tmp_path / "prefs.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_each_bad_row_is_reported_with_its_reason(tmp_path: Path) -> None:
    report = prepare(_user_file(tmp_path), heldout_fraction=0.25, max_prompt_length=3000)
    by_index = {d.index: d for d in report.dropped}
    assert report.records == 48 and report.format == "judgebench"
    assert by_index[3].kind == "missing_field" and "'response_B'" in by_index[3].reason
    assert by_index[7].kind == "empty_response" and "empty" in by_index[7].reason
    assert by_index[11].kind == "too_long" and "max_prompt_length=3000" in by_index[11].reason
    assert by_index[15].kind == "tie"
    assert by_index[19].kind == "bad_label" and "'A>>B'" in by_index[19].reason
    assert by_index[23].kind == "invalid" and "line 24 is not valid JSON" in by_index[23].reason
    assert by_index[27].kind == "invalid" and "response_A" in by_index[27].reason
    assert len(report.dropped) == 7
    assert report.kept == 41
    text = format_report(report)
    for d in report.dropped:
        assert d.reason in text
    assert "prompts in both: 0" in text and "p50" in text and "A>B 41" in text


def test_split_is_by_prompt_deterministic_and_stable(tmp_path: Path) -> None:
    report = prepare(_user_file(tmp_path), heldout_fraction=0.3, seed=5)
    train_p = {r["prompt"] for r in report.train}
    held_p = {r["prompt"] for r in report.heldout}
    assert train_p and held_p and not train_p & held_p
    assert report.summary()["prompts_in_both"] == 0
    twice = [r for r in report.train + report.heldout if r["prompt"] == "What is 5 + 5?"]
    assert len(twice) == 2  # both pairs of the repeated prompt kept, on the same side
    again = prepare(_user_file(tmp_path), heldout_fraction=0.3, seed=5)
    assert [r["prompt"] for r in again.heldout] == [r["prompt"] for r in report.heldout]
    other = prepare(_user_file(tmp_path), heldout_fraction=0.3, seed=6)
    assert {r["prompt"] for r in other.heldout} != held_p
    # More data never moves a prompt that was already placed.
    more = [{"prompt": f"new {i}"} for i in range(100)]
    _, held_more = split_by_prompt(report.train + report.heldout + more, 0.3, seed=5)
    assert held_p <= {r["prompt"] for r in held_more}


def test_bucket_ignores_whitespace_and_spreads_prompts() -> None:
    assert heldout_bucket("a  b\n") == heldout_bucket("a b")
    share = sum(heldout_bucket(f"prompt {i}") < 0.2 for i in range(2000)) / 2000
    assert 0.17 < share < 0.23
    with pytest.raises(ValueError, match="heldout_fraction"):
        split_by_prompt([], 1.0)


def test_every_shape_and_container(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p1", "chosen": "good", "rejected": "bad"},
        {"prompt": "p2", "chosen": "good", "rejected": ""},  # empty response
        {"prompt": "p3", "chosen": "good"},  # no rejected
    ]
    report = prepare(rows, heldout_fraction=0.0)
    assert report.format == "pairs" and report.kept == 1
    assert {d.kind for d in report.dropped} == {"empty_response", "missing_field"}
    pointwise = [
        {"prompt": "p", "responses": ["a", "b", "c"], "scores": [1, 9, 4]},
        {"prompt": "q", "responses": ["a", "b"]},  # neither scores nor preferred
    ]
    report = prepare(pointwise, heldout_fraction=0.0, template="pointwise")
    assert report.kept == 1 and report.train[0]["preferred"] == 1
    assert "scores or preferred" in report.dropped[0].reason
    # Three responses cannot go through a pairwise template: said per row, not raised.
    report = prepare(pointwise, heldout_fraction=0.0)
    assert report.kept == 0 and "template='pointwise'" in report.dropped[0].reason

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(GOOD), tmp_path / "prefs.parquet")
    assert read_records(tmp_path / "prefs.parquet") == GOOD

    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(GOOD)}).save_to_disk(
        str(tmp_path / "saved")
    )
    assert prepare(tmp_path / "saved").kept == len(GOOD)
    with pytest.raises(FileNotFoundError, match="save_to_disk"):
        read_records(tmp_path / "missing.jsonl")


def test_cli_check_data_reports_without_a_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grm.cli import main

    cfg = tmp_path / "run.yaml"
    # A model directory with no tokenizer: the check counts characters instead and says so.
    cfg.write_text(
        f"model: {tmp_path / 'no-model'}\ndata: {_user_file(tmp_path)}\nstages: [grpo]\n"
        "max_prompt_length: 750\nheldout_fraction: 0.2\n"
    )
    assert main(["train", str(cfg), "--check-data"]) == 0
    out = capsys.readouterr().out
    assert "format: judgebench" in out and "length (chars)" in out
    assert "[missing_field] row 3" in out and "[too_long] row 11" in out
    assert "[invalid] row 23: line 24 is not valid JSON" in out
    assert not (tmp_path / "runs").exists()


def test_data_through_grpo_splits_caps_and_holds_out(tmp_path: Path) -> None:
    from grm.training.config import TrainConfig
    from grm.training.grpo import grpo_dataset
    from grm.training.splits import grpo_splits

    cfg = TrainConfig(
        model=str(tmp_path / "no-model"),
        data=str(_user_file(tmp_path)),
        stages=("grpo",),
        heldout_fraction=0.25,
        n_train=10,
        heldout_n=4,
    )
    train, held = grpo_splits(cfg)
    assert len(train) == 10 and len(held) == 4
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in held}
    ds = grpo_dataset(cfg, train)
    assert len(ds) == 20  # both orders of each pair
    assert set(ds.column_names) >= {"prompt", "preferred_slot", "order", "pair_id"}
