"""Difficulty filtering for GRPO: train on the pairs the current judge gets right sometimes.

GRPO's advantage is a chain's reward minus its group's mean, so a group whose chains are all
right or all wrong gives no gradient (DAPO, Yu et al. 2025, "dynamic sampling"; TRL logs the
share of such groups as ``frac_reward_zero_std``). Before training, the starting judge samples
``k`` position-balanced chains per candidate pair with grm's own judging path, and only pairs
whose share of right chains lies in ``[low, high]`` are kept (DAPO filters in-step and draws
replacements; filtering the pool once before training gets most of the effect without
touching TRL's generation loop, and the filtered pool is stored for a resumed run).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grm.training.config import DifficultyConfig
from grm.training.rft_sample import sample_pairs
from grm.training.rft_select import SampledChain, is_right, references
from grm.training.tasks import TaskRow

logger = logging.getLogger(__name__)


def right_share(
    chains: Sequence[SampledChain],
    preferred: int,
    reference: Mapping[tuple[int, ...], str | None] | None = None,
) -> float | None:
    """A pair's share of right chains (:func:`is_right`: with ``reference``, right steps too);
    None with no chains.

    >>> cs = [SampledChain((0, 1), "a", 0), SampledChain((1, 0), "b", 0)]
    >>> right_share(cs, 0), right_share(cs, 0, {(0, 1): "a", (1, 0): "c"}), right_share([], 0)
    (1.0, 0.5, None)
    """
    if not chains:
        return None
    return sum(is_right(c, preferred, reference) for c in chains) / len(chains)


def in_band(chains: Sequence[SampledChain], preferred: int, low: float, high: float) -> bool:
    """Whether a pair's share of right chains lies in ``[low, high]``.

    >>> cs = [SampledChain((0, 1), "", 0), SampledChain((1, 0), "", 1)]
    >>> in_band(cs, 0, 0.2, 0.8), in_band(cs[:1], 0, 0.2, 0.8)
    (True, False)
    """
    share = right_share(chains, preferred)
    return share is not None and low <= share <= high


def filter_rows(cfg: Any, model: str, rows: Sequence[TaskRow]) -> list[TaskRow]:
    """The rows of ``rows`` in the difficulty band of the judge at ``model``; the sampled
    shares go to ``output_dir/difficulty.jsonl`` and are reused when the run resumes."""
    d: DifficultyConfig = cfg.difficulty
    path = Path(cfg.output_dir) / "difficulty.jsonl"
    if path.is_file():
        shares = [json.loads(line) for line in path.read_text().splitlines()]
        if len(shares) == len(rows) and all(s.get("verify", False) == d.verify for s in shares):
            kept = [row for row, s in zip(rows, shares, strict=True) if s["kept"]]
            logger.info("difficulty filter: reusing %s (%d of %d kept)", path, len(kept), len(rows))
            return kept
    chains = sample_pairs(
        model, rows, d.k, d.max_tokens, d.temperature, cfg.template, d.engine, d.engine_options
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = []
    with path.open("w") as f:
        for row, cs in zip(rows, chains, strict=True):
            reference = references(cfg, row, cs) if d.verify else None
            share = right_share(cs, row["preferred"], reference)
            ok = share is not None and d.low <= share <= d.high
            right = round((share or 0.0) * len(cs))
            f.write(json.dumps({"right": right, "n": len(cs), "kept": ok, "verify": d.verify}))
            f.write("\n")
            if ok:
                kept.append(row)
    logger.info(
        "difficulty filter: %d of %d pairs have %.0f%%-%.0f%% right chains",
        len(kept),
        len(rows),
        100 * d.low,
        100 * d.high,
    )
    if not kept:
        raise ValueError(
            f"no training pair is in the difficulty band [{d.low}, {d.high}]; widen it or "
            "raise n_train."
        )
    return kept
