"""Pointwise templates: a 1-10 score for each response."""

from __future__ import annotations

import re
from collections.abc import Sequence

from grm.parsing import Parsed, parse_score_list
from grm.templates.base import Template, register_template
from grm.templates.pairwise import render_pair
from grm.types import JudgeRequest, Message

_FINAL_SCORES = re.compile(r"Final Scores?:\s*\[\[([^\[\]]*)\]\]", re.I)


def _names(n: int) -> list[str]:
    return [str(i + 1) for i in range(n)]


@register_template("pointwise")
class GRMPointwise(Template):
    """grm's own pointwise format: principles, critique, ``Final Scores: [[s1, s2, ...]]``.

    Any number of responses, each scored 1-10, shuffled per chain (DeepSeek-GRM's practice;
    its own trained format is the ``deepseek-grm`` template).
    """

    name = "pointwise"
    kind = "pointwise"
    verdict_prefix = "Final Scores: [["
    score_close = "]]"
    min_responses = 1
    max_responses = None
    default_temperature = 0.5

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        self.check(request)
        n = len(order)
        body = render_pair(self, request, order, _names(n))
        example = ", ".join(f"s{i + 1}" for i in range(n))
        return [
            {
                "role": "system",
                "content": self.system_prompt(
                    "You are a skilled judge of answers. You write the principles that matter "
                    "for the question, critique each response against them, then score each "
                    "from 1 (poor) to 10 (excellent)."
                ),
            },
            {
                "role": "user",
                "content": (
                    f"{body}\n\nWrite 'Principles:', then 'Critique:' for each response, then "
                    f"end with exactly one line 'Final Scores: [[{example}]]' giving the "
                    f"{n} score{'s' if n > 1 else ''} in the order shown."
                ),
            },
        ]

    def parse(self, text: str, n_responses: int) -> Parsed | None:
        return parse_score_list(
            text, _FINAL_SCORES, n_responses, self.low, self.high, self.max_trailing, self.tail_only
        )

    def critique(self, text: str) -> str:
        start = text.find("Critique:")
        body = text[start + len("Critique:") :] if start >= 0 else text
        return super().critique(body)
