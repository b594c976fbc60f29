"""Pairwise templates: reasoning, then which of two responses is better."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from grm.parsing import EXPLANATION_CHARS, Parsed, parse_choice, parse_explained_choice
from grm.templates.base import Template, register_template, slot_label
from grm.types import JudgeRequest, Message

_BRACKET = re.compile(r"\[\[\s*([AB])\s*\]\]", re.I)
#: What opens the default template's verdict line (markup around it is allowed).
_VERDICT_LINE = re.compile(r"final\s+verdict\s*:?", re.I)


def render_pair(
    template: Template, request: JudgeRequest, order: Sequence[int], names: Sequence[str]
) -> str:
    """The question, an optional reference and the responses, each in delimiting tags."""
    parts = [f"<question>\n{template.data(request.prompt_str)}\n</question>"]
    if request.reference is not None:
        parts.append(f"<reference>\n{template.data(request.reference)}\n</reference>")
    for name, idx in zip(names, order, strict=True):
        tag = f"response_{name}"
        parts.append(f"<{tag}>\n{template.data(request.responses[idx])}\n</{tag}>")
    return "\n\n".join(parts)


class _PairwiseTemplate(Template):
    kind = "pairwise"
    choices: ClassVar[tuple[str, ...]] = ("A", "B")
    system: ClassVar[str]
    instruction: ClassVar[str]
    pattern: ClassVar[re.Pattern[str]] = _BRACKET

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        self.check(request)
        body = render_pair(self, request, order, [slot_label(i) for i in range(len(order))])
        return [
            {"role": "system", "content": self.system_prompt(self.system)},
            {"role": "user", "content": f"{body}\n\n{self.instruction}"},
        ]

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        return parse_choice(
            text, self.pattern, self.choices, self.max_trailing, self.tail_only, self.rule
        )


@register_template("default", "pairwise")
class DefaultPairwise(_PairwiseTemplate):
    """grm's own pairwise format: short reasoning, then ``Final verdict: [[A]]`` as the tail.

    A verdict line may be followed by a short explanation (up to :attr:`explanation`
    characters, :data:`grm.parsing.EXPLANATION_CHARS`); a verdict inside a sentence by
    :attr:`max_trailing`. A different verdict inside that explanation makes the chain
    abstain (see :func:`grm.parsing.parse_explained_choice`).
    """

    name = "default"
    verdict_prefix = "Final verdict: [["
    #: Characters of explanation allowed after the verdict line.
    explanation: ClassVar[int] = EXPLANATION_CHARS
    system = (
        "You are an impartial judge. You compare two responses to a user's question and "
        "decide which one is better: correct, helpful and honest."
    )
    instruction = (
        "Think step by step: check each response against the question (and the reference, "
        "if given), then decide. End with exactly one line, 'Final verdict: [[A]]' if "
        "response A is better or 'Final verdict: [[B]]' if response B is better."
    )

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        return parse_explained_choice(
            text,
            self.pattern,
            self.choices,
            _VERDICT_LINE,
            self.max_trailing if self.max_trailing is not None else len(text),
            self.explanation,
            self.tail_only,
        )
