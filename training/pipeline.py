"""A training run's stages in order (sft, rft, grpo), each starting from the previous
stage's judge: what ``grm train CONFIG`` runs."""

from __future__ import annotations

from pathlib import Path

from grm.training.config import TrainConfig


def run(cfg: TrainConfig) -> Path:
    """Every stage of ``cfg`` in order; each starts from the previous stage's judge."""
    out = Path(cfg.output_dir)
    start: str | None = None
    for stage in cfg.stages:
        if stage == "sft":
            from grm.training.sft import run_sft

            start = str(run_sft(cfg, start, out))
        elif stage == "rft":
            from grm.training.rft import run_rft

            start = str(run_rft(cfg, start, out))
        else:
            from grm.training.grpo import run_grpo

            start = str(run_grpo(cfg, start, out))
    return out
