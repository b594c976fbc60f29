"""From a sampled chain to its verdict: parsed, forced in-line, or forced in a second pass.

A pairwise chain without a parsed verdict gets one from the choices' log-probabilities after
the template's verdict prefix: read where the engine forced it in-line while sampling
(``Completion.verdict_logprobs``, :mod:`grm.inference.vllm_force`), or in one batched
:class:`ChoiceLogprobs` pass whose prompts continue the chains' own token ids
(:func:`grm.forcing.continue_ids`). A pointwise chain gets its scores read over the whole
score range (:func:`grm.forcing.force_scores`). :func:`read_verdicts` is a step generator,
as :func:`grm.judge.wave_steps` is.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from grm.config import JudgeConfig
from grm.forcing import SequenceLogprobs, continue_ids, force_scores
from grm.inference.base import TokenCodec
from grm.templates.base import Template
from grm.types import Judgment

Order = tuple[int, ...]

__all__ = ["ChoiceLogprobs", "Pending", "closing", "forced_judgment", "read_verdicts"]


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


def p_first_of(logps: Sequence[float], order: Order) -> float:
    """P(original response 0) from the slot log-probabilities of a pairwise verdict."""
    a, b = logps
    p_slot0 = 1.0 / (1.0 + math.exp(min(b - a, 700.0)))
    return p_slot0 if order[0] == 0 else 1.0 - p_slot0


@dataclass(frozen=True)
class ChoiceLogprobs:
    """Engine operation: ``engine.choice_logprobs(prompts, choices)`` -> ``list[list[float]]``."""

    prompts: list[str]
    choices: tuple[str, ...]
    stage: ClassVar[str] = "forcing verdicts"


@dataclass
class Pending:
    """One sampled chain on its way to a verdict (parsed, forced in-line, or to force).

    ``prompt`` is the rendered prompt the chain continues (its request in its ``order``).
    """

    prompt: str
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
    inline: tuple[float, ...] | None = None


def head(p: Pending, keep: int, suffix: str, codec: TokenCodec | None) -> str:
    """The chain's prompt + ``p.text[:keep] + suffix``, with token ids where known."""
    return continue_ids(p.prompt, p.prompt_ids, p.text, p.chain_ids, keep, suffix, codec)


def read_verdicts(
    template: Template, flat: Sequence[Pending], cfg: JudgeConfig, codec: TokenCodec | None
) -> Generator[ChoiceLogprobs | SequenceLogprobs, Any, None]:
    """Force unparsed chains and read verdict probabilities: at most one call per kind.

    With the engine's own tokenizer (``codec``) and the sampled ids, each prompt continues
    the sampled ids (see :func:`grm.forcing.continue_ids`), so the prefix cache covers it.
    """
    force = cfg.on_unparsed == "force"
    if template.kind == "pairwise":
        for p in flat:
            if p.judgment is None and p.inline is not None and (force or p.budget_hit):
                # Forced in-line by the engine: the verdict was read where it was written.
                p.forced = True
                p.judgment = forced_judgment(p_first_of(p.inline, p.order))
                p.text = p.text[: closing(template, p.text)[0]]
        probe: list[tuple[Pending, str]] = []
        for p in flat:
            if p.judgment is None and (force or p.budget_hit):
                probe.append((p, head(p, *closing(template, p.text), codec)))
            elif p.judgment is not None and cfg.verdict_probs and p.choice_start is not None:
                probe.append((p, head(p, p.choice_start, "", codec)))
        if not probe:
            return
        logps = yield ChoiceLogprobs([t for _, t in probe], tuple(template.choices))
        for (p, _), lp in zip(probe, logps, strict=True):
            p_first = p_first_of(lp, p.order)
            if p.judgment is None:
                p.forced = True
                p.judgment = forced_judgment(p_first)
            else:
                p.judgment = Judgment(winner=p.judgment.winner, p_first=p_first)
        return
    todo = [p for p in flat if p.judgment is None and (force or p.budget_hit)]
    if todo:
        yield from force_pending_scores(template, todo, codec)


def closing(template: Template, text: str) -> tuple[int, str]:
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


def force_pending_scores(
    template: Template, todo: Sequence[Pending], codec: TokenCodec | None
) -> Generator[ChoiceLogprobs | SequenceLogprobs, Any, None]:
    """Forced pointwise verdict over the whole score range (see :mod:`grm.forcing`)."""
    n = len(todo[0].order)
    heads = [head(p, *closing(template, p.text), codec) for p in todo]
    chosen = yield from force_scores(template, heads, n, codec)
    for p, got in zip(todo, chosen, strict=True):
        scores = [0.0] * n
        for slot, s in enumerate(got):
            scores[p.order[slot]] = float(s)
        p.forced = True
        p.judgment = Judgment(scores=tuple(scores))
