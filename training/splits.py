"""The training and held-out pairs of a run: the user's data split by prompt, or the
verifiable tasks' disjoint splits. GRPO, RFT rounds and the difficulty filter draw from here."""

from __future__ import annotations

import logging
import random
from typing import Any

from grm.training.config import TrainConfig
from grm.training.tasks import TaskRow, make_tasks
from grm.training.user_data import prepare_for

logger = logging.getLogger(__name__)


def grpo_splits(cfg: TrainConfig, tokenizer: Any = None) -> tuple[list[TaskRow], list[TaskRow]]:
    """(train rows, held-out rows): ``cfg.data`` checked, length-filtered and split by
    prompt (:mod:`grm.training.user_data`), or the verifiable tasks' disjoint splits."""
    if cfg.data is not None:
        report = prepare_for(cfg, tokenizer)
        if report.dropped:
            logger.warning(
                "%d of %d rows of %s dropped: %s (grm train CONFIG --check-data lists them)",
                len(report.dropped),
                report.records,
                cfg.data,
                report.dropped_by_kind(),
            )
        if not report.train:
            raise ValueError(
                f"no training rows left in {cfg.data}; run grm train CONFIG --check-data."
            )
        rows = list(report.train)
        random.Random(cfg.seed).shuffle(rows)
        return rows[: cfg.n_train], report.heldout[: cfg.heldout_n]
    # A different seed than SFT's item stream: GRPO sees fresh items of the train split.
    rows = make_tasks(cfg.tasks, "train", cfg.n_train + 7919)[-cfg.n_train :]
    return rows, make_tasks(cfg.tasks, "eval", cfg.heldout_n)
