"""SFT warm-start (RM-R1's distillation stage) with TRL's ``SFTTrainer``.

A small model does not write the verdict format unprompted (SmolLM2-135M never wrote
``[[A]]``, so every GRPO reward was equal and nothing was learned). This stage teaches the
format and a reasoning pattern whose verdict follows from the chain: templated rationales for
the verifiable tasks (:mod:`grm.training.rationales`) or chains of a stronger judge
(``TrainConfig.distill``). Loss is on the completion only (TRL's prompt-completion default).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from grm.training.common import (
    METRICS_FILE,
    load_model,
    metrics_callback,
    peft_config,
    resolve_model,
    save_final,
    trainer_defaults,
)
from grm.training.config import TrainConfig
from grm.training.data import distill_rows, sft_rows
from grm.training.tasks import make_tasks

logger = logging.getLogger(__name__)

#: SFT arguments grm picks for a small judge on CPU; the YAML ``sft`` section overrides them.
SFT_DEFAULTS: dict[str, Any] = {
    "max_steps": 300,
    "per_device_train_batch_size": 8,
    "learning_rate": 1e-4,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 10,
    "max_length": 1024,
    "weight_decay": 0.0,
}


def sft_dataset(cfg: TrainConfig) -> Any:
    """The prompt-completion dataset: distilled chains, templated rationales for the
    verifiable tasks, or for ``cfg.data`` (its training split) the preference rationale
    ``cfg.preference_chains`` names (:mod:`grm.training.rationales`)."""
    from datasets import Dataset

    if cfg.distill is not None:
        rows = sft_rows(distill_rows(cfg.distill, cfg.template), cfg.template, seed=cfg.seed)
    elif cfg.data is not None:
        from grm.training.splits import grpo_splits

        rows = sft_rows(
            grpo_splits(cfg)[0],
            cfg.template,
            both_orders=cfg.both_orders,
            seed=cfg.seed,
            preference_chains=cfg.preference_chains,
        )
    else:
        tasks = make_tasks(cfg.tasks, "train", cfg.n_train)
        rows = sft_rows(tasks, cfg.template, both_orders=cfg.both_orders, seed=cfg.seed)
    if not rows:
        raise ValueError("the SFT data is empty; check distill (no chain had a right verdict?).")
    logger.info("SFT on %d prompt-completion rows", len(rows))
    return Dataset.from_list(rows)


def sft_args(cfg: TrainConfig) -> Any:
    """``trl.SFTConfig`` from grm's defaults and the YAML ``sft`` section."""
    from trl import SFTConfig

    return SFTConfig(**{**trainer_defaults(cfg, "sft"), **SFT_DEFAULTS, **cfg.sft})


def build_sft_trainer(cfg: TrainConfig, model_path: str | None = None) -> tuple[Any, Any]:
    """The configured ``trl.SFTTrainer`` and its tokenizer (not yet trained)."""
    from trl import SFTTrainer

    path = resolve_model(model_path or cfg.model)
    args = sft_args(cfg)  # first: under ZeRO-3 it sets up sharded loading
    model, tokenizer = load_model(path, cfg.torch_threads, cfg.dtype)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=sft_dataset(cfg),
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
        callbacks=[metrics_callback(Path(cfg.output_dir) / METRICS_FILE, "sft")],
    )
    return trainer, tokenizer


def run_sft(cfg: TrainConfig, model_path: str | None = None, out: Path | None = None) -> Path:
    """Train, then save the judge to ``out`` (default ``cfg.output_dir``); returns the path."""
    trainer, tokenizer = build_sft_trainer(cfg, model_path)
    from transformers.trainer_utils import get_last_checkpoint

    stage_dir = cfg.stage_dir("sft")
    # No folder yet means nothing to resume (get_last_checkpoint would raise).
    resume = get_last_checkpoint(str(stage_dir)) if cfg.resume and stage_dir.is_dir() else None
    if resume:
        logger.info("Resuming SFT from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    return save_final(trainer, tokenizer, out or Path(cfg.output_dir))
