"""One wave of judging: render, sample chains in one engine call, parse, force, aggregate.

The pieces here hold no model state and make no engine call themselves: :func:`wave_steps`
is a step generator that yields the engine operations a wave needs (:class:`Generate`, then
:class:`ChoiceLogprobs` for forced verdicts) and is sent their results. The loop over waves,
and the runners that execute the operations on a sync or async engine, live in
:mod:`grm.driver`.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from grm.aggregation import get_aggregator, position_stats
from grm.config import JudgeConfig
from grm.forcing import SequenceLogprobs
from grm.inference.base import Engine, Generation, GenRequest, SamplingConfig, TokenCodec
from grm.templates.base import Template
from grm.types import Chain, JudgeRequest, Judgment, Result
from grm.verdicts import ChoiceLogprobs, Pending, read_verdicts

Order = tuple[int, ...]
TRUNCATION_MARKER = "\n[... {n} characters truncated ...]\n"
#: Tokens kept free after the prompt beyond max_tokens (verdict prefix, forced step).
_HEADROOM = 32


@dataclass
class Prepared:
    """A validated request with its rendered prompts (one per response order, made lazily)."""

    request: JudgeRequest
    index: int
    truncated: tuple[int, ...]
    prompts: dict[Order, str] = field(default_factory=dict)
    prompt_tokens: dict[Order, int] = field(default_factory=dict)


def truncate_middle(text: str, keep: int) -> tuple[str, int]:
    """Keep ``keep`` characters, head and tail, with a visible marker for the cut middle.

    >>> truncate_middle("abcdefghij", 4)
    ('ab\\n[... 6 characters truncated ...]\\nij', 6)
    """
    if keep >= len(text):
        return text, 0
    keep = max(keep, 0)
    cut = len(text) - keep
    head, tail = keep - keep // 2, keep // 2
    return text[:head] + TRUNCATION_MARKER.format(n=cut) + text[len(text) - tail :], cut


def plan_orders(
    kind: str, n_responses: int, start: int, count: int, rng_seed: Sequence[int], cfg: JudgeConfig
) -> list[Order]:
    """Response orders for chains ``start .. start+count-1`` of one request (pure).

    Pairwise, balanced: chains alternate between (A, B) and (B, A), starting from a seeded
    coin flip, so any k splits evenly and k=1 is one random order (RewardBench's rule).
    Pointwise with shuffle: a fresh seeded permutation per chain (DeepSeek-GRM).
    """
    rng = np.random.default_rng(list(rng_seed))
    identity = tuple(range(n_responses))
    if kind == "pairwise" and n_responses == 2:
        if not cfg.position_balanced:
            return [identity] * count
        flip = int(rng.integers(2))
        return [(0, 1) if (i + flip) % 2 == 0 else (1, 0) for i in range(start, start + count)]
    if cfg.shuffle and n_responses > 1:
        perms = [tuple(int(x) for x in rng.permutation(n_responses)) for _ in range(start + count)]
        return perms[start:]
    return [identity] * count


def prepare(
    engine: Engine, template: Template, request: JudgeRequest, index: int, cfg: JudgeConfig
) -> Prepared:
    """Validate a request against the template and the context, truncating if allowed."""
    template.check(request)
    budget = engine.max_context - cfg.max_tokens - _HEADROOM
    if budget <= 0:
        raise ValueError(
            f"max_tokens={cfg.max_tokens} leaves no room for a prompt in the model's "
            f"{engine.max_context}-token context; lower max_tokens."
        )
    identity = tuple(range(len(request.responses)))
    truncated = [0] * len(request.responses)
    current = request
    for _ in range(8):
        tokens = engine.count_tokens(template.prompt(engine.render_chat, current, identity))
        if tokens <= budget:
            return Prepared(current, index, tuple(truncated))
        if cfg.overlong == "error":
            raise ValueError(
                f"requests[{index}] renders to {tokens} tokens, over the {budget} the context "
                f"allows with max_tokens={cfg.max_tokens}; shorten the responses or pass "
                "overlong='truncate'."
            )
        # Cut the longest response by the overflow (chars estimated from tokens, plus margin).
        responses = list(current.responses)
        longest = max(range(len(responses)), key=lambda i: len(responses[i]))
        text = responses[longest]
        chars_per_token = max(len(text) / max(engine.count_tokens(text), 1), 1.0)
        excess = math.ceil((tokens - budget) * chars_per_token * 1.1) + 64
        responses[longest], cut = truncate_middle(text, len(text) - excess)
        truncated[longest] += cut
        if cut == 0:
            break
        current = JudgeRequest(current.prompt, tuple(responses), current.reference)
    raise ValueError(
        f"requests[{index}]: the prompt alone does not fit the {budget}-token budget even "
        "after truncating the responses; shorten the prompt or lower max_tokens."
    )


def _prompt(engine: Engine, template: Template, p: Prepared, order: Order) -> str:
    if order not in p.prompts:
        text = template.prompt(engine.render_chat, p.request, order)
        p.prompts[order] = text
        p.prompt_tokens[order] = engine.count_tokens(text)
    return p.prompts[order]


def _to_original(template: Template, text: str, order: Order) -> tuple[Judgment | None, int | None]:
    parsed = template.parse(text, len(order))
    if parsed is None:
        return None, None
    if parsed.winner is not None:
        return Judgment(winner=order[parsed.winner]), parsed.choice_start
    if parsed.scores is not None:
        scores = [0.0] * len(order)
        for slot, s in enumerate(parsed.scores):
            scores[order[slot]] = s
        return Judgment(scores=tuple(scores)), None
    return None, None


class EngineError(RuntimeError):
    """The engine failed during a batch. Finished work is kept, not lost.

    ``results`` holds the batch's results when chains were sampled before the failure: every
    chain of every finished wave, plus the failing wave's sampled chains when only their
    verdict forcing failed (those chains count as abstentions). ``None`` when no chain was
    sampled. ``cause`` is the engine's own exception (also chained as ``__cause__``).
    """

    def __init__(
        self, stage: str, size: int, cause: BaseException, results: list[Result] | None = None
    ) -> None:
        hint = (
            " Out of memory: lower k, max_tokens or the engine's batch size."
            if isinstance(cause, MemoryError) or "out of memory" in str(cause).lower()
            else ""
        )
        kept = " The sampled chains are kept in .results." if results is not None else ""
        super().__init__(
            f"the engine failed while {stage} for {size} prompts: "
            f"{type(cause).__name__}: {cause}.{hint}{kept}"
        )
        self.stage = stage
        self.cause = cause
        self.results = results


# ---------------------------------------------------------------- engine operations (sans-IO)


@dataclass(frozen=True)
class Generate:
    """Engine operation: ``engine.generate(requests, sampling)`` -> ``list[Generation]``."""

    requests: list[GenRequest]
    sampling: SamplingConfig
    stage: ClassVar[str] = "sampling"


#: What a step generator asks its runner to do with the engine.
EngineOp = Generate | ChoiceLogprobs | SequenceLogprobs


class EngineCallFailed(Exception):
    """Thrown into a step generator by its runner: the engine call for ``op`` raised ``cause``.

    Only runners raise it, and only around the engine call itself, so a step generator that
    catches it never mistakes its own bug for an engine failure.
    """

    def __init__(self, op: EngineOp, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.op = op
        self.cause = cause


class WaveFailed(Exception):
    """A wave's engine call failed; ``chains``/``prompt_tokens`` hold what it had sampled
    (``None`` when the sampling call itself failed)."""

    def __init__(
        self,
        failure: EngineCallFailed,
        size: int,
        chains: list[list[Chain]] | None = None,
        prompt_tokens: list[int] | None = None,
    ) -> None:
        super().__init__(str(failure))
        self.failure = failure
        self.size = size
        self.chains = chains
        self.prompt_tokens = prompt_tokens


def wave_steps(
    engine: Engine,
    template: Template,
    preps: Sequence[Prepared],
    orders: Sequence[Sequence[Order]],
    cfg: JudgeConfig,
    wave: int = 0,
) -> Generator[EngineOp, Any, tuple[list[list[Chain]], list[int]]]:
    """Sample the chains ``orders[i]`` asks for request ``preps[i]``: ONE :class:`Generate`.

    A step generator (see :mod:`grm.driver`): it yields one :class:`Generate`, then at most
    one :class:`ChoiceLogprobs` per forcing round, and returns the chains per request and
    the prompt tokens spent per request. Unparsed chains are forced or abstain, per
    ``cfg.on_unparsed``. ``engine`` is used only to render prompts and count tokens.

    A failed engine call (an :class:`EngineCallFailed` thrown in by the runner) ends the
    wave with :class:`WaveFailed`, which carries the sampled chains when only forcing failed.
    """
    gen_reqs: list[GenRequest] = []
    owners: list[tuple[int, Order]] = []
    for i, (prep, wanted) in enumerate(zip(preps, orders, strict=True)):
        counts: dict[Order, int] = {}
        for o in wanted:
            counts[o] = counts.get(o, 0) + 1
        for o, n in counts.items():
            gen_reqs.append(GenRequest(_prompt(engine, template, prep, o), n))
            owners.append((i, o))
    temperature = template.default_temperature if cfg.temperature is None else cfg.temperature
    # A thinking budget caps the sampled part; the verdict is then forced after it.
    budget = cfg.max_think_tokens
    # In-line forcing: an engine that can writes the verdict prefix into a chain about to
    # run out of tokens and reads the verdict there (SamplingConfig.verdict_prefix).
    inline = (
        template.kind == "pairwise"
        and cfg.on_unparsed == "force"
        and cfg.forcing == "inline"
        and budget is None
    )
    sampling = SamplingConfig(
        temperature,
        cfg.top_p,
        cfg.max_tokens if budget is None else budget,
        cfg.seed + 7919 * wave,
        tip_alpha=cfg.tip_alpha,
        tip_beta=cfg.tip_beta,
        tip_words=cfg.tip_words,
        verdict_prefix="\n" + template.verdict_prefix if inline else "",
        verdict_choices=tuple(template.choices) if inline else (),
    )
    generations: list[Generation] = []
    if gen_reqs:
        try:
            generations = yield Generate(gen_reqs, sampling)
        except EngineCallFailed as failure:
            raise WaveFailed(failure, len(gen_reqs)) from failure.cause
    if len(generations) != len(gen_reqs):
        raise ValueError(
            f"the engine returned {len(generations)} generations for {len(gen_reqs)} "
            "requests; Engine.generate must return one per request."
        )

    pending: list[list[Pending]] = [[] for _ in preps]
    prompt_tokens = [0] * len(preps)
    for (i, order), gen in zip(owners, generations, strict=True):
        prompt_tokens[i] += gen.prompt_tokens
        for c in gen.completions:
            judgment, start = _to_original(template, c.text, order)
            hit = budget is not None and c.finish_reason == "length"
            pending[i].append(
                Pending(
                    preps[i].prompts[order],
                    order,
                    c.text,
                    c.tokens,
                    c.finish_reason,
                    judgment,
                    start,
                    hit,
                    prompt_ids=gen.prompt_token_ids,
                    chain_ids=c.token_ids,
                    inline=c.verdict_logprobs,
                )
            )
    flat = [p for per in pending for p in per]
    codec = engine if isinstance(engine, TokenCodec) else None
    try:
        yield from read_verdicts(template, flat, cfg, codec)
    except EngineCallFailed as failure:
        # The sampled chains are finished work: keep them (unforced ones abstain).
        raise WaveFailed(
            failure, len(flat), _chains(template, pending), prompt_tokens
        ) from failure.cause
    return _chains(template, pending), prompt_tokens


def _chains(template: Template, pending: Sequence[Sequence[Pending]]) -> list[list[Chain]]:
    return [
        [
            Chain(
                text=p.text,
                order=p.order,
                judgment=p.judgment or Judgment(),
                forced=p.forced,
                completion_tokens=p.tokens,
                finish_reason=p.finish,
                critique=template.critique(p.text),
                budget_hit=p.budget_hit,
            )
            for p in per
        ]
        for per in pending
    ]


def aggregate(
    template: Template,
    prep: Prepared,
    chains: Sequence[Chain],
    prompt_tokens: int,
    seconds: float,
    cfg: JudgeConfig,
) -> Result:
    """Fold a request's chains into a :class:`Result` with the configured aggregator."""
    n = len(prep.request.responses)
    name = cfg.aggregator or ("majority" if template.kind == "pairwise" else "mean")
    agg = get_aggregator(name)([c.judgment for c in chains], n)
    consistency, first_rate = position_stats(chains) if n == 2 else (None, None)
    return Result(
        **asdict(agg),  # winner, probability, votes, scores, ties, abstentions
        forced=sum(c.forced for c in chains),
        k_used=len(chains),
        chains=tuple(chains),
        prompt_tokens=prompt_tokens,
        completion_tokens=sum(c.completion_tokens for c in chains),
        seconds=seconds,
        position_consistency=consistency,
        first_slot_rate=first_rate,
        truncated_chars=prep.truncated,
        aggregator=name,
    )
