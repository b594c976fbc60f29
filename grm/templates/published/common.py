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
