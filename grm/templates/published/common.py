"""What every published layout needs: the request's texts, sanitised for its delimiters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from grm.templates.base import Template
from grm.types import JudgeRequest


@dataclass(frozen=True)
class PairText:
    """The question, the responses in display order and the reference, each sanitised."""

    question: str
    responses: tuple[str, ...]
    reference: str | None


def pair_text(template: Template, request: JudgeRequest, order: Sequence[int]) -> PairText:
    template.check(request)
    return PairText(
        template.data(request.prompt_str),
        tuple(template.data(request.responses[i]) for i in order),
        None if request.reference is None else template.data(request.reference),
    )


def between(text: str, marker: str) -> tuple[int, int] | None:
    """The span between the first ``marker`` and the next one (or the end), or None.

    ``text.split(marker)[1]`` without the copy: the rule RRM's and JudgeLRM's scripts use.

    >>> between("a</think>b</think>c", "</think>")
    (9, 10)
    """
    first = text.find(marker)
    if first < 0:
        return None
    start = first + len(marker)
    second = text.find(marker, start)
    return start, len(text) if second < 0 else second
