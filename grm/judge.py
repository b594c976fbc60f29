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
from grm.forcing import SequenceLogprobs, continue_ids, force_scores
from grm.inference.base import Engine, Generation, GenRequest, SamplingConfig, TokenCodec
from grm.templates.base import Template
from grm.types import Chain, JudgeRequest, Judgment, Result

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


def forced_judgment(p_first: float) -> Judgment:
    """The judgment of a forced pairwise verdict with P(original response 0) = ``p_first``.

    ``p_first == 0.5`` exactly means the two choices got the same log-probability: the
    verdict carries no information (a logprob floor gives it whenever neither choice is among
    the engine's top log-probs), so it is a tie, not a vote for either response; counting it
    for response 0 would look position-consistent in both orders and hide the bias.

    >>> forced_judgment(0.5).tie, forced_judgment(0.7).winner, forced_judgment(0.2).winner
    (True, 0, 1)
    """
    if p_first == 0.5:
        return Judgment(tie=True, p_first=p_first)
    return Judgment(winner=0 if p_first > 0.5 else 1, p_first=p_first)


def _p_first(logps: Sequence[float], order: Order) -> float:
    """P(original response 0) from the slot log-probabilities of a pairwise verdict."""
    a, b = logps
    p_slot0 = 1.0 / (1.0 + math.exp(min(b - a, 700.0)))
    return p_slot0 if order[0] == 0 else 1.0 - p_slot0


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


@dataclass(frozen=True)
class ChoiceLogprobs:
    """Engine operation: ``engine.choice_logprobs(prompts, choices)`` -> ``list[list[float]]``."""

    prompts: list[str]
    choices: tuple[str, ...]
    stage: ClassVar[str] = "forcing verdicts"


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


@dataclass
class _Pending:
    prep: Prepared
    order: Order
    text: str
    tokens: int
    finish: str | None
    judgment: Judgment | None
    choice_start: int | None
    budget_hit: bool = False
    forced: bool = False
    prompt_ids: tuple[int, ...] | None = None
    chain_ids: tuple[int, ...] | None = None


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
    sampling = SamplingConfig(
        temperature,
        cfg.top_p,
        cfg.max_tokens if budget is None else budget,
        cfg.seed + 7919 * wave,
        tip_alpha=cfg.tip_alpha,
        tip_beta=cfg.tip_beta,
        tip_words=cfg.tip_words,
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

    pending: list[list[_Pending]] = [[] for _ in preps]
    prompt_tokens = [0] * len(preps)
    for (i, order), gen in zip(owners, generations, strict=True):
        prompt_tokens[i] += gen.prompt_tokens
        for c in gen.completions:
            judgment, start = _to_original(template, c.text, order)
            hit = budget is not None and c.finish_reason == "length"
            pending[i].append(
                _Pending(
                    preps[i],
                    order,
                    c.text,
                    c.tokens,
                    c.finish_reason,
                    judgment,
                    start,
                    hit,
                    prompt_ids=gen.prompt_token_ids,
                    chain_ids=c.token_ids,
                )
            )
    flat = [p for per in pending for p in per]
    codec = engine if isinstance(engine, TokenCodec) else None
    try:
        yield from _read_verdicts(template, flat, cfg, codec)
    except EngineCallFailed as failure:
        # The sampled chains are finished work: keep them (unforced ones abstain).
        raise WaveFailed(
            failure, len(flat), _chains(template, pending), prompt_tokens
        ) from failure.cause
    return _chains(template, pending), prompt_tokens


def _chains(template: Template, pending: Sequence[Sequence[_Pending]]) -> list[list[Chain]]:
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


def _head(p: _Pending, keep: int, suffix: str, codec: TokenCodec | None) -> str:
    """The chain's prompt + ``p.text[:keep] + suffix``, with token ids where known."""
    base = p.prep.prompts[p.order]
    return continue_ids(base, p.prompt_ids, p.text, p.chain_ids, keep, suffix, codec)


def _read_verdicts(
    template: Template, flat: Sequence[_Pending], cfg: JudgeConfig, codec: TokenCodec | None
) -> Generator[EngineOp, Any, None]:
    """Force unparsed chains and read verdict probabilities: at most one call per kind.

    With the engine's own tokenizer (``codec``) and the sampled ids, each prompt continues
    the sampled ids (see :func:`grm.forcing.continue_ids`), so the prefix cache covers it.
    """
    force = cfg.on_unparsed == "force"
    if template.kind == "pairwise":
        probe: list[tuple[_Pending, str]] = []
        for p in flat:
            if p.judgment is None and (force or p.budget_hit):
                probe.append((p, _head(p, *_closing(template, p.text), codec)))
            elif p.judgment is not None and cfg.verdict_probs and p.choice_start is not None:
                probe.append((p, _head(p, p.choice_start, "", codec)))
        if not probe:
            return
        logps = yield ChoiceLogprobs([t for _, t in probe], tuple(template.choices))
        for (p, _), lp in zip(probe, logps, strict=True):
            p_first = _p_first(lp, p.order)
            if p.judgment is None:
                p.forced = True
                p.judgment = forced_judgment(p_first)
            else:
                p.judgment = Judgment(winner=p.judgment.winner, p_first=p_first)
        return
    todo = [p for p in flat if p.judgment is None and (force or p.budget_hit)]
    if todo:
        yield from _force_scores(template, todo, codec)


def _closing(template: Template, text: str) -> tuple[int, str]:
    """How a cut chain is closed with the template's verdict prefix (J1's closes
    ``</think>``): the characters of ``text`` kept, and the text appended after them.

    A chain cut inside the verdict prefix itself ("... Final verdict: [") is closed there
    rather than given a second prefix.
    """
    body = text.rstrip()
    prefix = template.verdict_prefix
    for cut in range(len(prefix), 3, -1):
        head = prefix[:cut].rstrip()
        if len(head.strip()) >= 4 and body.endswith(head):
            return len(body) - len(head), prefix
    return len(body), "\n" + prefix


def _force_scores(
    template: Template, todo: Sequence[_Pending], codec: TokenCodec | None
) -> Generator[EngineOp, Any, None]:
    """Forced pointwise verdict over the whole score range (see :mod:`grm.forcing`)."""
    n = len(todo[0].order)
    heads = [_head(p, *_closing(template, p.text), codec) for p in todo]
    chosen = yield from force_scores(template, heads, n, codec)
    for p, got in zip(todo, chosen, strict=True):
        scores = [0.0] * n
        for slot, s in enumerate(got):
            scores[p.order[slot]] = float(s)
        p.forced = True
        p.judgment = Judgment(scores=tuple(scores))


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
