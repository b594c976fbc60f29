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
    if model is None:
        from grm.default_model import default_model_path

        return str(default_model_path())
    return model


def load_model(path: str, threads: int | None = None) -> tuple[Any, Any]:
    """The model in float32 (fastest and exact on CPU) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads is not None:
        torch.set_num_threads(threads)

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
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


def last_checkpoint(folder: Path) -> str | None:
    """The newest ``checkpoint-N`` in ``folder`` (to resume from), or None."""
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    return str(max(found, key=lambda p: int(p.name.split("-")[-1]))) if found else None


def save_final(trainer: Any, tokenizer: Any, out: Path) -> Path:
    """Save model + tokenizer so ``RewardModel.load(out)`` works; LoRA is merged first."""
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    logger.info("Saved the trained judge to %s", out)
    return out


def metrics_callback(path: Path, stage: str) -> Any:
    """A TrainerCallback that appends every log dict (one per logging step) to ``path``."""
    from transformers import TrainerCallback

    class _Metrics(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if not logs:
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
        "report_to": "none",
        "seed": cfg.seed,
        "bf16": False,
        "use_cpu": not _cuda(),
        "dataloader_num_workers": 0,
    }


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
