"""Forced pointwise scores read over the template's whole score range.

A chain cut before its scores is closed with the template's verdict prefix and each slot's
score is read from the model: every integer of the range, followed by the text that comes
after that score in the format (", " or "}" or "</answer>"), is scored as a whole token
sequence, and the most probable one is taken. A next-token read of digits would read a
score of 10 as 1 ("10" starts with the token "1"); the closing text also stops "1" from
being preferred merely because it is a prefix of "10".

Forced prompts go out as :class:`~grm.inference.base.TokenText` where the engine returned
the prompt's and the chain's token ids (:func:`continue_ids`): the prompt ids, the chain's
own sampled ids and the verdict prefix's ids, so vLLM's prefix cache serves every full
block of prompt and chain and the pass prefills little more than the verdict prefix.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import ClassVar

from grm.inference.base import TokenCodec, TokenText
from grm.templates.base import Template

#: Most trailing tokens dropped to find the ids that spell a chain's kept text (trailing
#: whitespace, an end-of-turn id, a verdict prefix the chain had begun).
_MAX_TRIM = 12


@dataclass(frozen=True)
class SequenceLogprobs:
    """Engine operation: ``engine.sequence_logprobs(prompts, candidates)`` ->
    ``list[list[float]]`` (one log-probability per candidate continuation per prompt)."""

    prompts: list[str]
    candidates: tuple[str, ...]
    stage: ClassVar[str] = "forcing verdicts"


def continue_ids(
    prompt: str,
    prompt_ids: Sequence[int] | None,
    chain: str,
    chain_ids: Sequence[int] | None,
    keep: int,
    suffix: str,
    codec: TokenCodec | None,
) -> str:
    """``prompt + chain[:keep] + suffix``, as a :class:`TokenText` whose ids continue the
    sampled ones where they are known (a plain string otherwise).

    The ids are ``prompt_ids`` + the longest run of ``chain_ids`` that spells a prefix of
    ``chain[:keep]`` (the chain's trailing whitespace or end-of-turn id is dropped, as the
    text is) + the encoding of the rest of the text. Where no such run is found within a few
    tokens (a detokenizer that does not round-trip), the chain text is re-encoded after the
    prompt ids: the prompt's blocks still come from the cache.
    """
    text = prompt + chain[:keep] + suffix
    if codec is None or prompt_ids is None:
        return text
    head = list(prompt_ids)
    if chain_ids:
        ids = list(chain_ids)
        for j in range(len(ids), max(len(ids) - _MAX_TRIM, 0) - 1, -1):
            spelled = codec.decode(ids[:j]) if j else ""
            if len(spelled) <= keep and chain.startswith(spelled):
                rest = chain[len(spelled) : keep] + suffix
                return TokenText(text, head + ids[:j] + (codec.encode(rest) if rest else []))
    rest = chain[:keep] + suffix
    return TokenText(text, head + (codec.encode(rest) if rest else []))


def inline_step(n: int, budget: int, prefix_len: int) -> int | None:
    """In-line verdict forcing at output position ``n`` of a chain of at most ``budget``
    tokens: None (sample freely), ``i < prefix_len`` (force the prefix's token ``i``) or
    ``prefix_len`` (draw among the choice tokens only). Pure; the vLLM processor applies it.

    Forcing starts at the last moment the prefix and one choice token still fit, as budget
    forcing does in s1 (Muennighoff et al. 2025, arXiv:2501.19393): a chain that ends on its
    own before then is never touched. With too small a budget (fewer free tokens than forced
    ones, see :func:`inline_fits`) the caller leaves the chain alone.

    >>> [inline_step(n, budget=8, prefix_len=3) for n in range(8)]
    [None, None, None, None, 0, 1, 2, 3]
    """
    start = budget - prefix_len - 1
    return None if n < start else n - start


def inline_fits(budget: int, prefix_len: int) -> bool:
    """Whether in-line forcing leaves a chain at least as many free tokens as it forces.

    >>> inline_fits(12, 5), inline_fits(11, 5)
    (True, False)
    """
    return budget >= 2 * (prefix_len + 1)


def extend(head: str, more: str, codec: TokenCodec | None) -> str:
    """``head + more``, keeping ``head``'s token ids (and encoding ``more``) when it has them.

    >>> extend("ab", "c", None)
    'abc'
    """
    if not more:
        return head
    if isinstance(head, TokenText) and codec is not None:
        return TokenText(head + more, head.token_ids + tuple(codec.encode(more)))
    return head + more


def score_values(template: Template) -> list[int]:
    """The integer scores a forced slot can take: the template's whole range.

    >>> from grm.templates import get_template
    >>> score_values(get_template("judgelrm"))[:3], score_values(get_template("judgelrm"))[-1]
    ([0, 1, 2], 10)
    """
    low, high = int(template.low), int(template.high)
    if low != template.low or high != template.high or high < low:
        raise ValueError(
            f"template {template.name!r} has score range [{template.low}, {template.high}]; "
            "forced scores need integer bounds with low <= high."
        )
    return list(range(low, high + 1))


def force_scores(
    template: Template, heads: Sequence[str], n: int, codec: TokenCodec | None = None
) -> Generator[SequenceLogprobs, list[list[float]], list[list[int]]]:
    """Per slot (one batched engine call per slot) the most probable whole score after each
    head (prompt + closed chain + verdict prefix) and the scores read so far (``codec``
    extends a :class:`TokenText` head's ids with them)."""
    values = score_values(template)
    chosen: list[list[int]] = [[] for _ in heads]
    for slot in range(n):
        suffix = template.score_suffix(slot, n)
        candidates = tuple(f"{v}{suffix}" for v in values)
        prompts = [
            extend(head, template.scores_so_far(got), codec)
            for head, got in zip(heads, chosen, strict=True)
        ]
        logps = yield SequenceLogprobs(prompts, candidates)
        for got, lp in zip(chosen, logps, strict=True):
            got.append(values[max(range(len(lp)), key=lp.__getitem__)])
    return chosen
