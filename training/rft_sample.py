"""Sampling for rejection-sampling rounds and difficulty filters: ``k`` position-balanced
chains per training pair through grm's own judging path, each read as the chain's own
verdict (:mod:`grm.training.rft` keeps from them, :mod:`grm.training.difficulty` bands)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from grm.training.rft_select import SampledChain
from grm.training.tasks import TaskRow

logger = logging.getLogger(__name__)


def _own_winner(chain: Any) -> int | str | None:
    """A chain's own verdict: a forced verdict is the engine's reading, not the chain's."""
    j = chain.judgment
    if chain.forced or j.abstained:
        return None
    if j.tie or j.winner is None:
        return "tie"
    return int(j.winner)


def sample_pairs(
    model: str,
    rows: Sequence[TaskRow],
    k: int,
    max_tokens: int,
    temperature: float = 1.0,
    template: str = "default",
    engine: str = "vllm",
    engine_options: dict[str, Any] | None = None,
    batch_pairs: int = 16,
) -> list[list[SampledChain]]:
    """``k`` position-balanced chains per row from the judge at ``model``, through grm's own
    :meth:`RewardModel.compare_batch`, so the chains are exactly those a user of the judge
    would get. RFT rounds and GRPO's difficulty filter both sample here.

    Pairs go to the engine ``batch_pairs`` at a time: on vLLM-CPU one call of 160 pairs x 8
    chains (1,280 sequences against its 256-sequence batch and a small KV cache) finished no
    request in 85 minutes, where calls of 16 pairs keep every sequence resident."""
    from grm.training.data import request_of

    from grm import RewardModel

    out: list[list[SampledChain]] = []
    with RewardModel.load(
        model,
        engine=engine,
        template=template,
        engine_options=engine_options or None,
        temperature=temperature,
        max_tokens=max_tokens,
        calibrator=False,
    ) as rm:
        start = time.perf_counter()
        for lo in range(0, len(rows), batch_pairs):
            part = rows[lo : lo + batch_pairs]
            results = rm.compare_batch([request_of(r) for r in part], k=k, progress=False)
            out += [
                [SampledChain(c.order, c.text, _own_winner(c)) for c in res.chains]
                for res in results
            ]
            logger.info(
                "sampled %d of %d pairs (%.2f chains/s)",
                len(out),
                len(rows),
                len(out) * k / (time.perf_counter() - start),
            )
    return out
