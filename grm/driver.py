"""The one judging driver: chains come in waves; fixed k is a single wave.

Every way of judging a batch goes through :class:`WaveDriver`:

- ``k=<int>``: one wave of ``k`` chains per request under the ``fixed`` stopping rule (it
  never stops early), so one engine pass serves the whole batch;
- ``k="auto"``: wave 0 samples ``wave_size`` chains for every request; each later wave
  samples ``wave_size`` more only for the requests the stopping rule (see
  :mod:`grm.stopping`) still calls undecided, until every request is decided or holds
  ``max_k`` chains. An optional batch ``budget`` spends later waves on the least-settled
  requests first (:func:`grm.adaptive.allocate`). Later waves send the same rendered
  prompts, so an engine with a prefix cache (vLLM) skips their prefill.

The seam for sync and async callers (sans-IO)
---------------------------------------------
The driver never calls the engine's sampling methods itself. :meth:`WaveDriver.steps` is a
generator that *yields* engine operations and is *sent* their results:

- :class:`grm.judge.Generate` (``requests``, ``sampling``): the caller runs
  ``engine.generate(op.requests, op.sampling)`` (or awaits an async engine's equivalent,
  one ``GenRequest`` at a time if it likes) and sends back ``list[Generation]``, one per
  request, in order;
- :class:`grm.judge.ChoiceLogprobs` (``prompts``, ``choices``): the caller sends back
  ``engine.choice_logprobs(op.prompts, op.choices)``;
- :class:`grm.forcing.SequenceLogprobs` (``prompts``, ``candidates``): forced pointwise
  scores; the caller sends back ``engine.sequence_logprobs(op.prompts, op.candidates)``.

Within a wave the driver plans the still-active requests' :class:`GenRequest` list, absorbs
the generations (parse, then force unparsed verdicts through ``ChoiceLogprobs``), and
decides which requests go on. The generator's return value is the list of results.
:func:`run` drives it on a sync engine, :func:`arun` with any async call, e.g.::

    driver = WaveDriver(engine, template, requests, cfg)

    results = await arun(driver.steps(), partial(aexecute, engine))

with :func:`grm.engine_ops.aexecute` (or :func:`~grm.engine_ops.execute` under :func:`run`),
the one dispatch of the operations.

The engine object given to :class:`WaveDriver` is used only to render chat prompts and count
tokens (local, synchronous tokenizer work).

Error recovery
--------------
A runner wraps exactly the engine call: whatever it raises is thrown into the generator as
:class:`grm.judge.EngineCallFailed`, and the driver raises :class:`grm.judge.EngineError`
whose ``results`` keep every chain of every finished wave, plus the failing wave's sampled
chains when only forcing failed (unforced ones abstain). An error anywhere else (a bug, bad
input) propagates with its own traceback. ``RewardModel`` finishes every result in one place
(meta vote, calibration), recovered results included.

Departures from Adaptive-Consistency (Aggarwal et al. 2023), which samples one chain at a
time per question: chains come in batched waves (one engine call per wave serves the whole
batch), and position balance continues across waves (``plan_orders(start=...)``), so a
request stopped after any even number of chains saw both response orders equally often.

With a meta RM (``weigh``), each wave's chains are rated as they arrive and the stopping rule
counts each vote with the meta RM's weight (:func:`grm.meta.vote_weights`); the final vote
over the top ``k_meta`` chains is the caller's (:func:`grm.meta.apply_meta`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from grm.adaptive import allocate, default_rule
from grm.config import JudgeConfig
from grm.engine_ops import execute
from grm.inference.base import Engine
from grm.judge import (
    ChoiceLogprobs,
    EngineCallFailed,
    EngineError,
    EngineOp,
    Generate,
    Prepared,
    WaveFailed,
    aggregate,
    plan_orders,
    prepare,
    wave_steps,
)
from grm.meta import vote_weights
from grm.stopping import decide
from grm.templates.base import Template
from grm.types import Chain, JudgeRequest, Result

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Rates chains: (requests, their new chains) -> the same chains with ``meta_score`` set.
ChainWeigher = Callable[[Sequence[JudgeRequest], Sequence[Sequence[Chain]]], list[list[Chain]]]

__all__ = [
    "ChainWeigher",
    "ChoiceLogprobs",
    "EngineError",
    "EngineOp",
    "Generate",
    "WaveDriver",
    "arun",
    "execute",
    "judge_batch",
    "run",
    "sample_chains",
]


class WaveDriver:
    """Judge a batch in waves of chains; see the module docstring for the step protocol.

    Construction validates and renders every request (a bad request raises ``ValueError``
    before any engine work); :meth:`steps` runs the waves.

    Each ``k="auto"`` result reports ``k_used``, ``k_saved = max_k - k_used`` and
    ``stopped_by``: the rule's name, ``"max_k"`` or ``"budget"``; ``extra["waves"]`` is the
    waves it took part in and ``extra["settled"]`` the rule's last settledness.
    """

    def __init__(
        self,
        engine: Engine,
        template: Template,
        requests: Sequence[JudgeRequest],
        cfg: JudgeConfig,
        weigh: ChainWeigher | None = None,
    ) -> None:
        self.engine = engine
        self.template = template
        self.requests = list(requests)
        self.cfg = cfg
        self.weigh = weigh
        self.auto = cfg.k == "auto"
        if cfg.k == "auto":
            self.rule, self.max_k, self.wave_size = (
                default_rule(template, cfg),
                cfg.max_k,
                cfg.wave_size,
            )
            self.budget = cfg.budget
        else:
            # Fixed k: a single wave under a rule that never stops early.
            self.rule, self.max_k, self.wave_size, self.budget = "fixed", cfg.k, cfg.k, None
        self.preps: list[Prepared] = [
            prepare(engine, template, r, i, cfg) for i, r in enumerate(self.requests)
        ]
        n_req = len(self.preps)
        first = min(self.wave_size, self.max_k)
        if self.budget is not None and self.budget < first * n_req:
            raise ValueError(
                f"budget={self.budget} is below the first wave's {first} chains x {n_req} "
                f"requests = {first * n_req}; raise budget or lower wave_size."
            )
        self.chains: list[list[Chain]] = [[] for _ in self.preps]
        self.prompt_tokens = [0] * n_req
        self.waves = [0] * n_req
        self.stopped: dict[int, str] = {}
        self.settled: dict[int, float] = {}
        self.active = list(range(n_req))
        self.wave = 0
        self._start = time.perf_counter()

    # -- pure steps ---------------------------------------------------------------------

    def plan(self) -> tuple[list[int], list[list[tuple[int, ...]]]]:
        """The requests the next wave samples and the response order of each new chain.

        Requests the budget cannot serve any more are stopped here (``"budget"``).
        """
        wants = {i: min(self.wave_size, self.max_k - len(self.chains[i])) for i in self.active}
        budget_left = None
        if self.budget is not None:
            budget_left = self.budget - sum(len(c) for c in self.chains)
        grant = allocate(wants, self.settled, budget_left)
        for i in self.active:
            if i not in grant:
                self.stopped[i] = "budget"
        self.active = [i for i in self.active if i in grant]
        orders = [
            plan_orders(
                self.template.kind,
                len(self.preps[i].request.responses),
                len(self.chains[i]),
                grant[i],
                (self.cfg.seed, self.preps[i].index),
                self.cfg,
            )
            for i in self.active
        ]
        return list(self.active), orders

    def absorb(
        self, active: Sequence[int], new: Sequence[Sequence[Chain]], tokens: Sequence[int]
    ) -> None:
        """Add a wave's chains and decide which of its requests go on."""
        still: list[int] = []
        for i, got, t in zip(active, new, tokens, strict=True):
            self.chains[i].extend(got)
            self.prompt_tokens[i] += t
            self.waves[i] += 1
            d = decide(
                self.rule,
                [c.judgment for c in self.chains[i]],
                len(self.preps[i].request.responses),
                self.cfg.confidence,
                self.max_k,
                None
                if self.weigh is None
                else vote_weights([c.meta_score for c in self.chains[i]]),
                self.cfg.vote_prior,
            )
            self.settled[i] = d.settled
            if d.stop:
                self.stopped[i] = self.rule
            elif len(self.chains[i]) >= self.max_k:
                self.stopped[i] = "max_k"
            else:
                still.append(i)
        logger.info(
            "wave %d: %d requests sampled, %d still undecided", self.wave, len(active), len(still)
        )
        self.active = still
        self.wave += 1

    def results(self) -> list[Result]:
        """Every request's result from the chains gathered so far."""
        # The batch shares its engine passes; each request reports an equal share of the time.
        seconds = (time.perf_counter() - self._start) / max(len(self.preps), 1)
        out = []
        for i, p in enumerate(self.preps):
            r = aggregate(
                self.template, p, self.chains[i], self.prompt_tokens[i], seconds, self.cfg
            )
            if self.auto:
                r = replace(
                    r,
                    stopped_by=self.stopped.get(i, "max_k"),
                    k_saved=max(self.max_k - r.k_used, 0),
                    extra={
                        **r.extra,
                        "waves": float(self.waves[i]),
                        "settled": self.settled.get(i, 0.0),
                    },
                )
            out.append(r)
        return out

    # -- the loop -----------------------------------------------------------------------

    def steps(self) -> Generator[EngineOp, Any, list[Result]]:
        """Run every wave; yields engine operations, returns the results."""
        self._start = time.perf_counter()
        while self.active:
            active, orders = self.plan()
            if not active:
                break
            preps = [self.preps[i] for i in active]
            try:
                new, tokens = yield from wave_steps(
                    self.engine, self.template, preps, orders, self.cfg, wave=self.wave
                )
            except WaveFailed as failed:
                if failed.chains is not None and failed.prompt_tokens is not None:
                    for i, got, t in zip(active, failed.chains, failed.prompt_tokens, strict=True):
                        self.chains[i].extend(got)
                        self.prompt_tokens[i] += t
                kept = self.results() if any(self.chains) else None
                raise EngineError(
                    failed.failure.op.stage, failed.size, failed.failure.cause, kept
                ) from failed.failure.cause
            if self.weigh is not None:
                new = self.weigh([self.requests[i] for i in active], new)
            self.absorb(active, new, tokens)
        return self.results()


# ---------------------------------------------------------------- runners


def run(steps: Generator[EngineOp, Any, T], call: Callable[[EngineOp], Any]) -> T:
    """Drive a step generator to its return value with a synchronous ``call(op)``."""
    try:
        op = next(steps)
        while True:
            try:
                result = call(op)
            except Exception as exc:  # the engine call only: its failure goes to the driver
                op = steps.throw(EngineCallFailed(op, exc))
            else:
                op = steps.send(result)
    except StopIteration as stop:
        return stop.value


async def arun(steps: Generator[EngineOp, Any, T], call: Callable[[EngineOp], Awaitable[Any]]) -> T:
    """Drive a step generator with an async ``call(op)`` (e.g. an ``AsyncLLM`` engine)."""
    try:
        op = next(steps)
        while True:
            try:
                result = await call(op)
            except Exception as exc:  # the engine call only: its failure goes to the driver
                op = steps.throw(EngineCallFailed(op, exc))
            else:
                op = steps.send(result)
    except StopIteration as stop:
        return stop.value


def sample_chains(
    engine: Engine,
    template: Template,
    preps: Sequence[Prepared],
    orders: Sequence[Sequence[tuple[int, ...]]],
    cfg: JudgeConfig,
    wave: int = 0,
) -> tuple[list[list[Chain]], list[int]]:
    """One wave on a sync engine, outside the loop (benchmarks and cache probes use it)."""
    try:
        return run(wave_steps(engine, template, preps, orders, cfg, wave), partial(execute, engine))
    except WaveFailed as failed:
        raise EngineError(
            failed.failure.op.stage, failed.size, failed.failure.cause
        ) from failed.failure.cause


def judge_batch(
    engine: Engine,
    template: Template,
    requests: Sequence[JudgeRequest],
    cfg: JudgeConfig,
    weigh: ChainWeigher | None = None,
) -> list[Result]:
    """Judge every request: ``cfg.k`` chains in one engine pass, or waves for ``k="auto"``.

    ``weigh`` (e.g. a meta RM, see :mod:`grm.meta`) rates each wave's chains; with
    ``k="auto"`` the stopping rule then weights each chain's vote by those ratings.
    Raises :class:`grm.judge.EngineError` (with the finished chains in ``.results``) when
    the engine fails.
    """
    driver = WaveDriver(engine, template, requests, cfg, weigh)
    return run(driver.steps(), partial(execute, engine))
