"""The fine-tune of a rejection-sampling round: its TRL config and its trainer run, shared by
the SFT rounds of :mod:`grm.training.rft` and the preference rounds of
:mod:`grm.training.rft_dpo`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grm.training.config import RFTConfig

#: SFT arguments of one RFT round's fine-tune; the YAML ``rft.train`` section overrides them.
RFT_TRAIN_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1,
    "per_device_train_batch_size": 8,
    "learning_rate": 2e-4,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 2,
    "max_length": 1024,
    "weight_decay": 0.0,
}


def round_args(
    cfg: Any,
    r: int,
    output_dir: Path | None = None,
    config_cls: Any = None,
    defaults: dict[str, Any] | None = None,
) -> Any:
    """The TRL config of round ``r``'s fine-tune (``trl.SFTConfig`` and
    :data:`RFT_TRAIN_DEFAULTS` unless given another class and its defaults): grm's
    defaults, then ``defaults``, then the YAML's ``rft.train``."""
    from grm.training.common import trainer_defaults

    if config_cls is None:
        from trl import SFTConfig as config_cls

    rft: RFTConfig = cfg.rft
    out = output_dir or Path(cfg.output_dir) / "rft" / f"round-{r}" / "checkpoints"
    return config_cls(
        **{
            **trainer_defaults(cfg, "rft"),
            **(RFT_TRAIN_DEFAULTS if defaults is None else defaults),
            "seed": rft.seed + r,
            **rft.train,
            "output_dir": str(out),
        }
    )


def rft_args(cfg: Any, r: int = 0, output_dir: Path | None = None) -> Any:
    """``trl.SFTConfig`` of round ``r``'s fine-tune: grm's defaults, then ``rft.train``."""
    return round_args(cfg, r, output_dir)


def fine_tune(
    cfg: Any, r: int, model: str, data: list[dict[str, Any]], out: Path, trainer_cls: Any, args: Any
) -> None:
    """Train the judge at ``model`` on round ``r``'s ``data`` with ``trainer_cls`` (TRL's
    ``SFTTrainer`` or ``DPOTrainer``) and ``args``, LoRA when ``lora_r`` > 0, resuming from
    ``out/checkpoints``; the merged judge goes to ``out/model``."""
    from datasets import Dataset
    from grm.training.common import (
        METRICS_FILE,
        load_model,
        metrics_callback,
        peft_config,
        save_final,
    )
    from transformers.trainer_utils import get_last_checkpoint

    ckpts = Path(args.output_dir)
    policy, tokenizer = load_model(model, cfg.torch_threads, cfg.dtype)
    trainer = trainer_cls(
        model=policy,
        args=args,
        train_dataset=Dataset.from_list(data),
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
        callbacks=[metrics_callback(Path(cfg.output_dir) / METRICS_FILE, f"rft-{r}")],
    )
    resume = get_last_checkpoint(str(ckpts)) if cfg.resume and ckpts.is_dir() else None
    trainer.train(resume_from_checkpoint=resume)
    save_final(trainer, tokenizer, out / "model")
