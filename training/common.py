"""What the SFT and GRPO stages share: loading, LoRA, per-step metrics, saving, resuming."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from grm.training.config import TrainConfig

logger = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"


def resolve_model(model: str | None) -> str:
    """The folder to train from: the default model for None, a bundled judge's merged
    checkpoint for its name (grm.judges), anything else as given."""
    from grm.judges import resolve_model as resolve

    return resolve(model)


def resolve_dtype(dtype: str) -> str:
    """'auto' -> float32 on CPU (fastest and exact there), bfloat16 on a GPU that has it."""
    if dtype != "auto":
        return dtype
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def load_model(path: str, threads: int | None = None, dtype: str = "auto") -> tuple[Any, Any]:
    """The model (float32 on CPU unless ``dtype`` says otherwise) and its tokenizer.

    Build the trainer's config before calling this: under ``accelerate launch`` with
    DeepSpeed ZeRO-3 the config registers the sharded-init context that ``from_pretrained``
    then uses, so no process materialises the whole model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads is not None:
        torch.set_num_threads(threads)

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, resolve_dtype(dtype)))
    return model, tokenizer


def peft_config(cfg: TrainConfig) -> Any:
    """A LoRA config on every linear layer, or None for a full fine-tune."""
    if cfg.lora_r == 0:
        return None
    import importlib.util

    if importlib.util.find_spec("peft") is None:
        raise ImportError("lora_r > 0 needs peft: pip install 'grm[train]'.")
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r, lora_alpha=cfg.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"
    )


def _sharded(trainer: Any) -> bool:
    if getattr(trainer, "is_fsdp_enabled", False):
        return True
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return bool(
        getattr(trainer, "is_deepspeed_enabled", False) and plugin and plugin.zero_stage == 3
    )


def save_final(trainer: Any, tokenizer: Any, out: Path) -> Path:
    """Save model + tokenizer so ``RewardModel.load(out)`` works; LoRA is merged first.

    One process writes. A full fine-tune goes through ``trainer.save_model``, which gathers
    ZeRO-3 / FSDP shards; a LoRA model is merged into its base first (with sharded
    parameters the adapter is saved under ``out/adapter`` and merged from disk).
    """
    acc = trainer.accelerator
    model = acc.unwrap_model(trainer.model)
    out.mkdir(parents=True, exist_ok=True)
    if not hasattr(model, "merge_and_unload"):
        trainer.save_model(str(out))
        if acc.is_main_process:
            tokenizer.save_pretrained(out)
    elif not _sharded(trainer):
        if acc.is_main_process:
            # The adapter alone too: a LoRA judge ships as its adapter over the base.
            model.save_pretrained(out / "adapter")
            model.merge_and_unload().save_pretrained(out)
            tokenizer.save_pretrained(out)
    else:
        trainer.save_model(str(out / "adapter"))
        if acc.is_main_process:
            from peft import AutoPeftModelForCausalLM

            merged = AutoPeftModelForCausalLM.from_pretrained(str(out / "adapter"))
            merged.merge_and_unload().save_pretrained(out)
            tokenizer.save_pretrained(out)
    acc.wait_for_everyone()
    logger.info("Saved the trained judge to %s", out)
    return out


def metrics_callback(path: Path, stage: str) -> Any:
    """A TrainerCallback that appends every log dict (one per logging step) to ``path``."""
    from transformers import TrainerCallback

    class _Metrics(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            # One row per (re)start: a resumed run's begins at its checkpoint's step.
            if state.is_world_process_zero:
                with path.open("a") as f:
                    f.write(
                        json.dumps(
                            {"stage": stage, "event": "train_begin", "step": state.global_step}
                        )
                        + "\n"
                    )

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not logs or not state.is_world_process_zero:
                return
            row = {
                "stage": stage,
                "step": state.global_step,
                "time_s": time.perf_counter() - self.start,
            }
            row.update({k: v for k, v in logs.items() if isinstance(v, int | float)})
            with path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    path.parent.mkdir(parents=True, exist_ok=True)
    return _Metrics()


def trainer_defaults(cfg: TrainConfig, stage: str) -> dict[str, Any]:
    """Arguments every stage sets unless the YAML section overrides them."""
    return {
        "output_dir": str(cfg.stage_dir(stage)),
        "logging_steps": 1,
        "save_steps": 25,
        "save_total_limit": 2,
        "report_to": cfg.report_to,
        "seed": cfg.seed,
        "bf16": resolve_dtype(cfg.dtype) == "bfloat16" and _cuda(),
        "use_cpu": not _cuda(),
        "dataloader_num_workers": 0,
    }


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
