"""The multi-GPU configs validated without a GPU: accelerate files, TRL configs, dry runs.

A real run of each needs GPUs (and DeepSpeed); those are the ``gpu`` test at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grm.training.config import TrainConfig
from grm.training.launch import ACCELERATE_CONFIGS, grpo_shape, read_accelerate_config, resolved

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"
TEMPLATES = ["judge-1.5b.yaml", "judge-7b.yaml", "judge-32b.yaml", "grpo-vllm-server.yaml"]
ACCEL = sorted(ACCELERATE_CONFIGS.glob("*.yaml"))


@pytest.mark.parametrize("path", ACCEL, ids=[p.name for p in ACCEL])
def test_accelerate_configs_load_with_accelerate(path: Path) -> None:
    cfg = read_accelerate_config(path)
    kind = cfg["distributed_type"]
    assert kind in ("MULTI_GPU", "DEEPSPEED", "FSDP")
    if kind == "DEEPSPEED":
        assert cfg["deepspeed_config"]["zero_stage"] in (2, 3)
        assert cfg["deepspeed_config"].get("zero3_init_flag") == (
            cfg["deepspeed_config"]["zero_stage"] == 3
        )
    if kind == "FSDP":
        # Checkpoints that RewardModel.load reads directly.
        assert cfg["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_bad_accelerate_configs_name_the_key(tmp_path: Path) -> None:
    base = (ACCELERATE_CONFIGS / "deepspeed-zero2.yaml").read_text()
    bad = tmp_path / "ds.yaml"
    bad.write_text(base.replace("zero_stage: 2", "zero_stage: 2\n  zero_stag: 3"))
    with pytest.raises(ValueError, match="zero_stag"):
        read_accelerate_config(bad)
    bad.write_text(base.replace("zero_stage: 2", "zero_stage: 5"))
    with pytest.raises(ValueError, match="zero_stage must be 0-3"):
        read_accelerate_config(bad)
    fsdp = (ACCELERATE_CONFIGS / "fsdp.yaml").read_text()
    bad.write_text(fsdp.replace("fsdp_version: 2", "fsdp_version: 2\n  fsdp_sharding: FULL"))
    with pytest.raises(ValueError, match="fsdp_sharding"):
        read_accelerate_config(bad)
    bad.write_text(base + "gpus_per_node: 8\n")
    with pytest.raises(ValueError, match="gpus_per_node"):  # accelerate's own check
        read_accelerate_config(bad)
    with pytest.raises(FileNotFoundError, match="configs/accelerate"):
        read_accelerate_config(tmp_path / "none.yaml")


@pytest.mark.parametrize("name", TEMPLATES)
def test_gpu_templates_resolve_to_trl_configs(name: str) -> None:
    cfg = TrainConfig.from_yaml(CONFIGS / name)
    accel = "deepspeed-zero3.yaml" if "32b" in name else "deepspeed-zero2.yaml"
    out = resolved(cfg, ACCELERATE_CONFIGS / accel, num_processes=32 if "32b" in name else None)
    grpo = out["trl"]["grpo"]
    assert grpo["class"] == "GRPOConfig"
    assert grpo["output_dir"].endswith("checkpoints-grpo")
    assert grpo["beta"] == 0.001 and grpo["temperature"] == 1.0
    assert grpo["use_vllm"] is True
    shape = out["grpo_shape_at_launch"]
    if name in ("judge-7b.yaml", "judge-32b.yaml"):
        # RM-R1's batch: 1024 prompts x 7 rollouts per generation, 128 x 7 per update.
        assert shape["prompts_per_generation"] == 1024
        assert shape["completions_per_optimizer_step"] == 896
        assert shape["optimizer_steps_per_generation"] == 8
        assert grpo["num_generations"] == 7
    if name == "grpo-vllm-server.yaml":
        assert grpo["vllm_mode"] == "server" and "vllm-serve" in shape["generation"]
    if name == "judge-32b.yaml":
        assert cfg.heldout_every == 0  # ZeRO-3: no process holds the whole model


def test_batch_arithmetic_that_trl_would_reject_is_caught() -> None:
    from types import SimpleNamespace

    args = SimpleNamespace(
        world_size=1,
        per_device_train_batch_size=3,
        steps_per_generation=2,
        gradient_accumulation_steps=2,
        num_generations=4,
        use_vllm=False,
        beta=0.0,
        learning_rate=1e-6,
    )
    assert grpo_shape(args, world=2)["prompts_per_generation"] == 3  # 3 x 2 x 2 = 12
    with pytest.raises(ValueError, match="not a multiple of num_generations 4"):
        grpo_shape(args, world=3)  # 3 x 3 x 2 = 18


def test_dry_run_prints_resolved_config_and_trains_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grm.cli import main

    out_dir = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"output_dir: {out_dir}\nstages: [sft, grpo]\n"
        "grpo: {num_generations: 4, per_device_train_batch_size: 8, beta: 0.04}\n"
    )
    accel = ACCELERATE_CONFIGS / "fsdp.yaml"
    assert main(["train", str(cfg), "--dry-run", "--accelerate-config", str(accel)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["trl"]["sft"]["class"] == "SFTConfig"
    assert printed["trl"]["grpo"]["beta"] == 0.04
    assert printed["trl"]["grpo"]["use_cpu"] is True  # this machine has no GPU
    assert printed["grpo_shape"]["world_size"] == 1
    assert printed["grpo_shape_at_launch"]["generation_batch_size"] == 64  # 8 x 8 processes
    assert printed["accelerate"]["config"]["distributed_type"] == "FSDP"
    assert not out_dir.exists()


def test_new_config_fields_are_validated() -> None:
    with pytest.raises(ValueError, match="heldout_fraction"):
        TrainConfig(heldout_fraction=1.0)
    with pytest.raises(ValueError, match="max_prompt_length"):
        TrainConfig(max_prompt_length=0)
    with pytest.raises(ValueError, match="heldout_ks"):
        TrainConfig(heldout_ks=(0, 8))
    with pytest.raises(ValueError, match="dtype"):
        TrainConfig(dtype="fp8")


@pytest.mark.gpu
def test_deepspeed_zero2_grpo_run_on_gpus(tmp_path: Path, default_model_path: Path) -> None:
    """Two GRPO steps of the embedded model under DeepSpeed ZeRO-2 on the GPUs present."""
    import importlib.util
    import os
    import subprocess
    import sys

    import torch

    if torch.cuda.device_count() < 1 or importlib.util.find_spec("deepspeed") is None:
        pytest.skip("needs a CUDA GPU and deepspeed")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"output_dir: {tmp_path / 'run'}\nstages: [grpo]\nn_train: 8\nheldout_every: 0\n"
        "grpo: {max_steps: 2, num_generations: 2, per_device_train_batch_size: 2, "
        "max_completion_length: 16, save_steps: 1}\n"
    )
    n = torch.cuda.device_count()
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(ACCELERATE_CONFIGS / "deepspeed-zero2.yaml"), "--num_processes", str(n),
           "-m", "grm.cli", "train", str(cfg)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "checkpoints-grpo" / "checkpoint-2").is_dir()
    assert (tmp_path / "run" / "model.safetensors").is_file()
