"""One real SFT step and one real GRPO step (TRL) on the default model with a tiny dataset.

Each test checks what a user relies on: the loss is logged per step, the weights change,
the output directory loads with ``RewardModel.load`` and judges, and a run resumes from its
last checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _tensors(path: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _changed(base: Path, trained: Path) -> int:
    before, after = _tensors(base), _tensors(trained)
    return sum(
        int(not after[name].float().equal(before[name].float()))  # type: ignore[attr-defined]
        for name in before
        if name in after
    )


def _metrics(out: Path, stage: str) -> list[dict[str, float]]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["stage"] == stage and "train_runtime" not in r]


def _judges(path: Path) -> None:
    from grm import RewardModel

    with RewardModel.load(str(path), engine="transformers") as rm:
        result = rm.compare("What is 12 + 30?", "42", "43", k=1, max_tokens=8)
    assert result.k_used == 1


def test_one_sft_step_trains_saves_reloads_and_resumes(
    tmp_path: Path, default_model_path: Path
) -> None:
    from grm.training.config import TrainConfig
    from grm.training.sft import run_sft

    out = tmp_path / "sft"
    sft = {"max_steps": 1, "per_device_train_batch_size": 2, "save_steps": 1, "warmup_steps": 0}
    cfg = TrainConfig(output_dir=str(out), stages=("sft",), n_train=2, sft=sft)
    run_sft(cfg)
    logged = _metrics(out, "sft")
    assert logged and logged[0]["loss"] > 0
    assert _changed(default_model_path, out) > 0
    assert (out / "tokenizer_config.json").is_file()
    _judges(out)

    # A second run with one more step resumes from checkpoint-1 instead of starting over.
    cfg2 = TrainConfig(output_dir=str(out), stages=("sft",), n_train=2, sft={**sft, "max_steps": 2})
    run_sft(cfg2)
    assert [r["step"] for r in _metrics(out, "sft")] == [1, 2]


def test_one_grpo_step_with_lora_trains_merges_and_reloads(
    tmp_path: Path, default_model_path: Path
) -> None:
    from grm.training.config import TrainConfig
    from grm.training.grpo import run_grpo

    out = tmp_path / "grpo"
    grpo = {
        "max_steps": 1,
        "num_generations": 2,
        "per_device_train_batch_size": 4,  # both orders of one pair, two chains each
        "max_completion_length": 16,
        "learning_rate": 1e-3,
        # A base model that never writes a verdict gives every chain the same reward, so the
        # advantages are zero; TRL's entropy bonus keeps the one-step update non-zero.
        "entropy_coef": 0.01,
        "save_steps": 1,
    }
    cfg = TrainConfig(
        output_dir=str(out),
        stages=("grpo",),
        n_train=1,
        lora_r=4,
        rewards={"verdict": 1.0, "swap_consistency": 0.5, "format": 0.1, "overlong": 1.0},
        grpo=grpo,
    )
    run_grpo(cfg)
    logged = _metrics(out, "grpo")
    assert logged and "loss" in logged[0]
    for key in ("reward", "judge/accuracy", "judge/parse_failure_rate", "judge/chain_tokens"):
        assert key in logged[0], key
    assert not (out / "adapter_config.json").exists()  # merged, a plain checkpoint
    assert _changed(default_model_path, out) > 0
    assert (out / "checkpoints-grpo" / "checkpoint-1").is_dir()
    _judges(out)
