"""GRPO on preference data with TRL's ``GRPOTrainer`` (RM-R1, J1, RRM, DeepSeek-GRM).

The judge samples ``num_generations`` chains per judge prompt; the rewards of
:mod:`grm.training.rewards` score each chain's verdict against the known preference, and
GRPO pushes up the chains that beat their group's mean. Prompts are the inference template's
messages, so the trained model is used as-is by :class:`grm.RewardModel`.

Generation is TRL's: transformers ``generate`` by default; ``use_vllm: true`` in the ``grpo``
section asks TRL for its colocated vLLM engine. On CPU, vLLM packs its linear weights into
kernel handles that TRL's weight sync cannot reach; :mod:`grm.training.vllm_sync` keeps the
weights loadable and repacks them after every sync.
"""

from __future__ import annotations

import contextlib
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
from grm.training.data import grpo_rows
from grm.training.heldout import heldout_callback
from grm.training.rewards import make_reward_funcs
from grm.training.splits import grpo_splits
from grm.training.tasks import TaskRow
from grm.training.vllm_sync import keep_cpu_weights, on_cpu_vllm, patch_colocate_sync

logger = logging.getLogger(__name__)

#: GRPO arguments grm picks for a small judge on CPU; the YAML ``grpo`` section overrides them.
GRPO_DEFAULTS: dict[str, Any] = {
    "max_steps": 50,
    "num_generations": 4,
    "per_device_train_batch_size": 8,
    "max_completion_length": 96,
    "learning_rate": 1e-6,
    "temperature": 1.0,
    "beta": 0.0,
    "lr_scheduler_type": "constant",
    # Both orders of a pair stay adjacent (and so in one batch) for the swap reward.
    "shuffle_dataset": False,
    "log_completions": False,
}


def grpo_dataset(cfg: TrainConfig, rows: list[TaskRow] | None = None) -> Any:
    """Judge prompts with the reward columns, from ``rows`` (default: :func:`grpo_splits`)."""
    from datasets import Dataset

    if rows is None:
        rows = grpo_splits(cfg)[0]
    data = grpo_rows(
        rows, cfg.template, both_orders=cfg.both_orders, seed=cfg.seed, chain_kind=cfg.chain_kind
    )
    logger.info("GRPO on %d judge prompts", len(data))
    return Dataset.from_list(data)


def grpo_args(cfg: TrainConfig) -> Any:
    from trl import GRPOConfig

    merged = {**trainer_defaults(cfg, "grpo"), **GRPO_DEFAULTS, **cfg.grpo}
    merged.setdefault("reward_weights", list(cfg.rewards.values()))
    return GRPOConfig(**merged)


def build_grpo_trainer(
    cfg: TrainConfig, model_path: str | None = None, callbacks: list[Any] | None = None
) -> tuple[Any, Any]:
    """The configured ``trl.GRPOTrainer`` and its tokenizer (not yet trained).

    ``callbacks`` (transformers ``TrainerCallback``s) join grm's metrics log and, with
    ``heldout_every > 0``, the held-out accuracy callback.
    """
    args = grpo_args(cfg)  # first: under ZeRO-3 it sets up sharded loading
    start = resolve_model(model_path or cfg.model)
    model, tokenizer = load_model(start, cfg.torch_threads, cfg.dtype)
    tokenizer.padding_side = "left"
    train_rows, heldout_rows = grpo_splits(cfg, tokenizer)
    if cfg.difficulty is not None:  # before TRL starts its own (colocated) engine
        from grm.training.difficulty import filter_rows

        train_rows = filter_rows(cfg, start, train_rows)
    heldout = None
    if cfg.heldout_every > 0 and heldout_rows:
        heldout = heldout_callback(
            heldout_rows,
            cfg.heldout_every,
            cfg.heldout_ks,
            cfg.template,
            cfg.heldout_max_tokens,
            temperature=args.temperature,
            seed=cfg.seed,
        )
    extra = [metrics_callback(Path(cfg.output_dir) / METRICS_FILE, "grpo"), *(callbacks or [])]
    if heldout is not None:
        extra.append(heldout)
    cpu_vllm = bool(args.use_vllm) and args.vllm_mode == "colocate" and on_cpu_vllm()
    with keep_cpu_weights() if cpu_vllm else contextlib.nullcontext():
        trainer = _grpo_trainer(cfg, args, model, tokenizer, train_rows, extra)
    if cpu_vllm:
        patch_colocate_sync(trainer)
    if heldout is not None:
        heldout.attach(trainer)
    return trainer, tokenizer


def _grpo_trainer(
    cfg: TrainConfig,
    args: Any,
    model: Any,
    tokenizer: Any,
    rows: list[TaskRow],
    callbacks: list[Any],
) -> Any:
    from trl import GRPOTrainer

    # TRL types reward_funcs as a list of str | model | callable (a list is invariant).
    reward_funcs: list[Any] = list(
        make_reward_funcs(cfg.template, list(cfg.rewards), args.max_completion_length)
    )
    return GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=grpo_dataset(cfg, rows),
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
        callbacks=callbacks,
    )


def run_grpo(
    cfg: TrainConfig,
    model_path: str | None = None,
    out: Path | None = None,
    callbacks: list[Any] | None = None,
) -> Path:
    """Train (resuming from the last checkpoint of ``output_dir/checkpoints-grpo`` when
    ``cfg.resume``), then save the judge to ``out`` (default ``cfg.output_dir``)."""
    trainer, tokenizer = build_grpo_trainer(cfg, model_path, callbacks)
    from transformers.trainer_utils import get_last_checkpoint

    stage_dir = cfg.stage_dir("grpo")
    # No folder yet means nothing to resume (get_last_checkpoint would raise).
    resume = get_last_checkpoint(str(stage_dir)) if cfg.resume and stage_dir.is_dir() else None
    if resume:
        logger.info("Resuming GRPO from %s", resume)
    trainer.train(resume_from_checkpoint=resume)
    return save_final(trainer, tokenizer, out or Path(cfg.output_dir))
