"""Adaptive k: sample chains in waves, only for the requests a stopping rule calls undecided.

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

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from grm.config import JudgeConfig
from grm.inference.base import Engine
from grm.judge import aggregate, plan_orders, prepare, sample_chains
from grm.meta import vote_weights
from grm.stopping import Decision, decide
from grm.templates.base import Template
from grm.types import Chain, JudgeRequest, Result

logger = logging.getLogger(__name__)

#: Rates chains: (requests, their new chains) -> the same chains with ``meta_score`` set.
ChainWeigher = Callable[[Sequence[JudgeRequest], Sequence[Sequence[Chain]]], list[list[Chain]]]


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


def judge_adaptive(
    engine: Engine,
    template: Template,
    requests: Sequence[JudgeRequest],
    cfg: JudgeConfig,
    weigh: ChainWeigher | None = None,
) -> list[Result]:
    """Judge every request with adaptive k (``cfg.k == "auto"``): one engine call per wave.

    ``weigh`` (e.g. a meta RM, see grm.meta) rates each wave's chains; the stopping rule
    then weights each chain's vote by :func:`grm.meta.vote_weights` of those ratings.

    Each result reports ``k_used``, ``k_saved = max_k - k_used`` and ``stopped_by``: the
    rule's name, ``"max_k"`` or ``"budget"``. ``extra["waves"]`` is the waves it took part in.
    """
    start = time.perf_counter()
    rule = default_rule(template, cfg)
    preps = [prepare(engine, template, r, i, cfg) for i, r in enumerate(requests)]
    n_req = len(preps)
    first = min(cfg.wave_size, cfg.max_k)
    if cfg.budget is not None and cfg.budget < first * n_req:
        raise ValueError(
            f"budget={cfg.budget} is below the first wave's {first} chains x {n_req} requests "
            f"= {first * n_req}; raise budget or lower wave_size."
        )
    budget_left = cfg.budget
    chains: list[list[Chain]] = [[] for _ in preps]
    prompt_tokens = [0] * n_req
    waves = [0] * n_req
    stopped: dict[int, str] = {}
    settled: dict[int, float] = {}
    active = list(range(n_req))
    wave = 0
    while active:
        wants = {i: min(cfg.wave_size, cfg.max_k - len(chains[i])) for i in active}
        grant = allocate(wants, settled, budget_left)
        for i in active:
            if i not in grant:
                stopped[i] = "budget"
        active = [i for i in active if i in grant]
        if not active:
            break
        orders = [
            plan_orders(
                template.kind,
                len(preps[i].request.responses),
                len(chains[i]),
                grant[i],
                (cfg.seed, preps[i].index),
                cfg,
            )
            for i in active
        ]
        new, tokens = sample_chains(
            engine, template, [preps[i] for i in active], orders, cfg, wave=wave
        )
        if budget_left is not None:
            budget_left -= sum(grant.values())
        if weigh is not None:
            new = weigh([requests[i] for i in active], new)
        still: list[int] = []
        for i, got, t in zip(active, new, tokens, strict=True):
            chains[i].extend(got)
            prompt_tokens[i] += t
            waves[i] += 1
            d: Decision = decide(
                rule,
                [c.judgment for c in chains[i]],
                len(preps[i].request.responses),
                cfg.confidence,
                cfg.max_k,
                None if weigh is None else vote_weights([c.meta_score for c in chains[i]]),
            )
            settled[i] = d.settled
            if d.stop:
                stopped[i] = rule
            elif len(chains[i]) >= cfg.max_k:
                stopped[i] = "max_k"
            else:
                still.append(i)
        logger.info(
            "wave %d: %d requests sampled, %d still undecided", wave, len(active), len(still)
        )
        active = still
        wave += 1
    seconds = (time.perf_counter() - start) / max(n_req, 1)
    results = []
    for i, p in enumerate(preps):
        r = aggregate(template, p, chains[i], prompt_tokens[i], seconds, cfg)
        results.append(
            replace(
                r,
                stopped_by=stopped.get(i, "max_k"),
                k_saved=max(cfg.max_k - r.k_used, 0),
                extra={**r.extra, "waves": float(waves[i]), "settled": settled.get(i, 0.0)},
            )
        )
    return results
