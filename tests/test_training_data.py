"""Verifiable tasks, rationales, data loaders and the training config (no model needed)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from grm.training.config import TrainConfig
from grm.training.data import distill_rows, grpo_rows, load_preferences, sft_rows
from grm.training.rationales import rationale
from grm.training.tasks import (
    TaskConfig,
    addition_check,
    addition_split,
    constraint_split,
    make_tasks,
    wrong_sum,
)

from grm.templates import get_template

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "training" / "configs").glob("*.yaml"))


def test_splits_are_disjoint_and_cover_the_pairs() -> None:
    cfg = TaskConfig(seed=3)
    split = addition_split(cfg)
    assert not set(split["train"]) & set(split["eval"])
    assert len(split["train"]) + len(split["eval"]) == 90 * 91 // 2
    c = constraint_split(cfg)
    assert not set(c["train"]) & set(c["eval"])


def test_held_out_items_never_share_operands_with_train() -> None:
    cfg = TaskConfig()
    ops = {
        split: {
            frozenset(map(int, r["check"].split("so ")[1].split(" =")[0].split(" + ")))
            for r in make_tasks(cfg, split, 400)
        }
        for split in ("train", "eval")
    }
    assert not ops["train"] & ops["eval"]


def test_same_seed_same_items_other_seed_other_items() -> None:
    assert make_tasks(TaskConfig(seed=1), "train", 20) == make_tasks(
        TaskConfig(seed=1), "train", 20
    )
    assert make_tasks(TaskConfig(seed=1), "train", 20) != make_tasks(
        TaskConfig(seed=2), "train", 20
    )


def test_preferred_response_is_the_right_sum() -> None:
    for row in make_tasks(TaskConfig(), "train", 200):
        a, b = (int(x) for x in row["check"].split("so ")[1].split(" =")[0].split(" + "))
        assert row["claims"][row["preferred"]] == str(a + b)
        assert row["claims"][1 - row["preferred"]] != str(a + b)
        assert str(a + b) in row["responses"][row["preferred"]]


def test_wrong_sum_is_never_the_answer() -> None:
    rng = random.Random(0)
    for answer in range(0, 200):
        assert wrong_sum(answer, rng) != answer


@pytest.mark.parametrize(("a", "b"), [(47, 38), (10, 10), (99, 99), (55, 45), (12, 30)])
def test_addition_check_is_right(a: int, b: int) -> None:
    assert addition_check(a, b).endswith(f"= {a + b}.")


@pytest.mark.parametrize("template", ["default", "rm-r1", "j1", "rrm"])
@pytest.mark.parametrize("task", ["addition", "constraint"])
def test_rationale_verdict_parses_to_the_preferred_response(template: str, task: str) -> None:
    tpl = get_template(template)
    for row in make_tasks(TaskConfig(tasks=(task,)), "train", 30):
        for order in ((0, 1), (1, 0)):
            parsed = tpl.parse(rationale(row, order, template), 2)
            assert parsed is not None and order[parsed.winner] == row["preferred"]


def test_pointwise_rationale_scores_the_preferred_highest() -> None:
    tpl = get_template("pointwise")
    row = make_tasks(TaskConfig(), "train", 1)[0]
    parsed = tpl.parse(rationale(row, (1, 0), "pointwise"), 2)
    assert parsed is not None and parsed.scores is not None
    assert parsed.scores[(1, 0).index(row["preferred"])] == 9


def test_unknown_task_and_bad_split_are_named() -> None:
    with pytest.raises(ValueError, match="tasks must name"):
        TaskConfig(tasks=("poetry",))
    with pytest.raises(ValueError, match="split"):
        make_tasks(TaskConfig(), "test", 3)
    with pytest.raises(ValueError, match="eval_fraction"):
        TaskConfig(eval_fraction=1.5)


def test_loaders_for_every_shape(tmp_path: Path) -> None:
    rows = [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {
            "chosen": [
                {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Hello!"},
            ],
            "rejected": [
                {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Go."},
            ],
        },
        {"prompt": "x", "chosen": "good", "rejected": "bad", "subset": "chat"},
        {"question": "q", "response_A": "a", "response_B": "b", "label": "B>A"},
        {"question": "q", "response_A": "a", "response_B": "b", "label": "A=B"},  # tie: skipped
        {"prompt": "p", "responses": ["r1", "r2", "r3"], "scores": [2, 9, 5]},
    ]
    path = tmp_path / "prefs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    out = load_preferences(path)
    assert len(out) == 5
    for src, got in zip([rows[i] for i in (0, 1, 2)], out[:3], strict=True):
        chosen = src["chosen"] if isinstance(src["chosen"], str) else src["chosen"][-1]["content"]
        assert got["responses"][got["preferred"]] == chosen
    assert out[1]["prompt"] == [{"role": "user", "content": "Hi?"}]
    assert out[2]["task"] == "chat"
    assert out[3]["preferred"] == 1 and out[3]["responses"] == ["a", "b"]
    assert out[4]["preferred"] == 1 and len(out[4]["responses"]) == 3


def test_loader_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_preferences(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="cannot tell the data format"):
        load_preferences([{"text": "x"}])
    with pytest.raises(ValueError, match="label"):
        load_preferences([{"question": "q", "response_A": "a", "response_B": "b", "label": "A"}])
    with pytest.raises(ValueError, match="row 0: responses\\[[01]\\] is empty"):
        load_preferences([{"prompt": "q", "chosen": "a", "rejected": " "}])


def test_grpo_rows_put_both_orders_side_by_side() -> None:
    tasks = make_tasks(TaskConfig(), "train", 5)
    rows = grpo_rows(tasks, "default", both_orders=True)
    assert len(rows) == 10
    for first, second, task in zip(rows[::2], rows[1::2], tasks, strict=True):
        assert first["pair_id"] == second["pair_id"]
        assert first["order"] == second["order"][::-1]
        for r in (first, second):
            assert r["order"][r["preferred_slot"]] == task["preferred"]
            assert r["prompt"] == get_template("default").messages(
                __import__("grm.training.data", fromlist=["x"]).request_of(task), tuple(r["order"])
            )


def test_sft_rows_are_prompt_completion_with_the_rationale() -> None:
    tasks = make_tasks(TaskConfig(), "train", 3)
    rows = sft_rows(tasks, "default", both_orders=False)
    assert len(rows) == 3
    assert rows[0]["prompt"][0]["role"] == "system"
    assert rows[0]["completion"][0]["content"].endswith("]]")


def test_distill_keeps_only_right_chains() -> None:
    base = {"prompt": "2+2?", "responses": ["4", "5"], "preferred": 0, "order": [1, 0]}
    rows = [
        {**base, "chain": "5 is wrong, 4 is right. Final verdict: [[B]]"},  # slot B = response 0
        {**base, "chain": "Final verdict: [[A]]"},
        {**base, "chain": "no verdict"},
    ]
    kept = distill_rows(rows)
    assert len(kept) == 1
    assert sft_rows(kept)[0]["completion"][0]["content"].endswith("[[B]]")


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_committed_configs_load(path: Path) -> None:
    if path.name.startswith("meta-rm"):  # grm train-meta configs
        from grm.training.meta_rm import MetaRMTrainConfig

        assert MetaRMTrainConfig.from_yaml(path).n_pairs >= 2
        return
    cfg = TrainConfig.from_yaml(path)
    assert cfg.stages


def test_config_errors_name_field_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="stages"):
        TrainConfig(stages=("dpo",))
    with pytest.raises(ValueError, match="rewards"):
        TrainConfig(rewards={"bogus": 1.0})
    with pytest.raises(ValueError, match="lora_r"):
        TrainConfig(lora_r=-1)
    with pytest.raises(ValueError, match="output_dir"):
        TrainConfig(sft={"output_dir": "x"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_steps: 3\n")
    with pytest.raises(ValueError, match="unknown keys"):
        TrainConfig.from_yaml(bad)


def test_cli_train_names_a_missing_config(capsys: pytest.CaptureFixture[str]) -> None:
    from grm.cli import main

    assert main(["train", "does-not-exist.yaml"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_plot_draws_sft_and_grpo_metrics(tmp_path: Path) -> None:
    from grm.training.plot import plot_metrics

    sft, grpo = tmp_path / "sft.jsonl", tmp_path / "grpo.jsonl"
    sft.write_text(
        "\n".join(json.dumps({"stage": "sft", "step": i, "loss": 1 / i}) for i in (1, 2))
    )
    grpo.write_text(
        json.dumps({"stage": "grpo", "step": 1, "reward": 0.1, "judge/accuracy": 0.5})
        + "\n"
        + json.dumps({"stage": "grpo", "step": 1, "train_runtime": 3.0})
    )
    png = plot_metrics([sft, grpo], tmp_path / "curve.png")
    assert png.stat().st_size > 1000
    with pytest.raises(ValueError, match="no metric"):
        plot_metrics(_empty(tmp_path), tmp_path / "e.png")


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.jsonl"
    path.write_text(json.dumps({"stage": "sft", "step": 1}) + "\n")
    return path


def test_grpo_rows_carry_the_rule_chain_of_their_order() -> None:
    from grm.training.data import rule_chain

    tasks = make_tasks(TaskConfig(), "train", 3)
    rows = grpo_rows(tasks, "default", both_orders=True)
    for r in rows:
        task = tasks[r["pair_id"]]
        assert r["reference"] == rule_chain(task, tuple(r["order"]), "default")
        assert r["reference"].endswith("[[A]]" if r["preferred_slot"] == 0 else "[[B]]")
    pairs = [{"prompt": "q?", "responses": ["Sure.", "No."], "preferred": 0}]
    assert [r["reference"] for r in grpo_rows(pairs, "default", both_orders=True)] == [None, None]
    labelled = grpo_rows(pairs, "default", both_orders=True, chain_kind="label")
    assert all(r["reference"] and "Final verdict" in r["reference"] for r in labelled)
