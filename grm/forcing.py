"""Forced pointwise scores read over the template's whole score range.

A chain cut before its scores is closed with the template's verdict prefix and each slot's
score is read from the model: every integer of the range, followed by the text that comes
after that score in the format (", " or "}" or "</answer>"), is scored as a whole token
sequence, and the most probable one is taken. A next-token read of digits would read a
score of 10 as 1 ("10" starts with the token "1"); the closing text also stops "1" from
being preferred merely because it is a prefix of "10".
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from grm.templates.base import Template


@dataclass(frozen=True)
class SequenceLogprobs:
    """Engine operation: ``engine.sequence_logprobs(prompts, candidates)`` ->
    ``list[list[float]]`` (one log-probability per candidate continuation per prompt)."""

    prompts: list[str]
    candidates: tuple[str, ...]
    stage: ClassVar[str] = "forcing verdicts"


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
    template: Template, heads: Sequence[str], n: int
) -> Generator[SequenceLogprobs, list[list[float]], list[list[int]]]:
    """Per slot (one batched engine call per slot) the most probable whole score after each
    head (prompt + closed chain + verdict prefix) and the scores read so far."""
    values = score_values(template)
    chosen: list[list[int]] = [[] for _ in heads]
    for slot in range(n):
        suffix = template.score_suffix(slot, n)
        candidates = tuple(f"{v}{suffix}" for v in values)
        prompts = [
            head + template.scores_so_far(got) for head, got in zip(heads, chosen, strict=True)
        ]
        logps = yield SequenceLogprobs(prompts, candidates)
        for got, lp in zip(chosen, logps, strict=True):
            got.append(values[max(range(len(lp)), key=lp.__getitem__)])
    return chosen


def execute_sequence(engine: Any, op: SequenceLogprobs) -> list[list[float]]:
    """Run the operation on a synchronous engine."""
    return list(engine.sequence_logprobs(op.prompts, op.candidates))
