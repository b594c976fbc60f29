"""Adaptive k's pure planning helpers: the default stopping rule and the budget allocator.

The wave loop itself is :class:`grm.driver.WaveDriver` (fixed k is its single-wave case).
Wave 0 samples ``wave_size`` chains for every request of the batch in one engine call; each
later wave samples ``wave_size`` more chains for the requests still undecided, again in one
call, until every request is decided or holds ``max_k`` chains. Later waves send the same
rendered prompts, so an engine with a prefix cache (vLLM) skips their prefill.

Departures from Adaptive-Consistency (Aggarwal et al. 2023), which samples one chain at a
time per question: chains come in batched waves (one engine call per wave serves the whole
batch), and position balance continues across waves (``plan_orders(start=...)``), so a
request stopped after any even number of chains saw both response orders equally often.

An optional batch ``budget`` caps the chains of the whole batch: the first wave is always
paid for; later waves go to the least-settled requests first (lowest ``Decision.settled``)
until the budget runs out.

With a meta RM (``weigh``), each wave's chains are rated as they arrive and the stopping rule
counts each vote with the meta RM's weight (:func:`grm.meta.vote_weights`); the final vote
over the top ``k_meta`` chains is the caller's (:func:`grm.meta.apply_meta`).
"""

from __future__ import annotations

from collections.abc import Sequence

from grm.config import JudgeConfig
from grm.stopping import decide
from grm.templates.base import Template
from grm.types import Judgment


def default_rule(template: Template, cfg: JudgeConfig) -> str:
    """The configured rule, else 'beta' for pairwise verdicts and 'score_diff' for scores."""
    if cfg.stopping is not None:
        return cfg.stopping
    return "beta" if template.kind == "pairwise" else "score_diff"


def allocate(
    wants: dict[int, int], settled: dict[int, float], budget: int | None
) -> dict[int, int]:
    """Chains per request for the next wave under a remaining ``budget`` (pure).

    Requests are served least-settled first (ties by index) until the budget runs out; the
    last one served may get fewer chains than it wanted. ``budget=None`` grants every want.

    >>> allocate({0: 4, 1: 4, 2: 4}, {0: 0.9, 1: 0.5, 2: 0.7}, budget=6)
    {1: 4, 2: 2}
    """
    if budget is None:
        return dict(wants)
    grant: dict[int, int] = {}
    left = budget
    for i in sorted(wants, key=lambda i: (settled.get(i, 0.0), i)):
        if left <= 0:
            break
        take = min(wants[i], left)
        if take > 0:
            grant[i] = take
            left -= take
    return grant


def replay_prefix(
    judgments: Sequence[Judgment],
    n_responses: int,
    rule: str,
    wave_size: int,
    confidence: float,
    max_k: int,
    prior: tuple[float, ...] | None = None,
) -> int:
    """How many of ``judgments`` (one request's chains, in the order the waves would draw
    them) ``k="auto"`` would have used under ``rule``: the same waves and checks as
    :class:`grm.driver.WaveDriver` without a batch budget (pure); ``prior`` is the judge's
    vote prior (the ``bayes`` rule's).

    It replays stopping rules on the chains of one fixed-k run, so every rule and setting is
    compared on the same chains (scripts/bench_scaling.py, scripts/replay_adaptive.py).

    >>> a, b = Judgment(winner=0), Judgment(winner=1)
    >>> replay_prefix([a, a, b, a], 2, "sprt", 2, 0.8, 4)  # 2-0 after the first wave
    2
    >>> replay_prefix([a, b, a, a, b, b], 2, "sprt", 2, 0.8, 6)  # 1-1, then 3-1
    4
    >>> replay_prefix([a, b] * 3, 2, "sprt", 2, 0.8, 6)  # never settled: max_k
    6
    """
    if wave_size < 1 or max_k < 1:
        raise ValueError(f"wave_size and max_k must be >= 1, got {wave_size} and {max_k}.")
    if len(judgments) < max_k:
        raise ValueError(f"replay needs max_k={max_k} judgments, got {len(judgments)}.")
    m = min(wave_size, max_k)
    while m < max_k:
        if decide(rule, judgments[:m], n_responses, confidence, max_k, None, prior).stop:
            break
        m = min(m + wave_size, max_k)
    return m
