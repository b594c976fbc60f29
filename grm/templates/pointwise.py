"""Pointwise templates: a 1-10 score for each response."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from grm.parsing import Parsed, parse_repeated_scores, parse_score_list
from grm.templates.base import Template, register_template, think_block
from grm.templates.pairwise import render_pair
from grm.types import JudgeRequest, Message

_FINAL_SCORES = re.compile(r"Final Scores?:\s*\[\[([^\[\]]*)\]\]", re.I)
_ANSWER_SCORE = re.compile(r"<answer>\s*([0-9]+(?:\.[0-9]+)?)\s*</answer>")


def _names(n: int) -> list[str]:
    return [str(i + 1) for i in range(n)]


@register_template("pointwise", "deepseek-grm")
class DeepSeekGRM(Template):
    """DeepSeek-GRM (Liu et al. 2025): principles, critique, ``Final Scores: [[s1, s2, ...]]``.

    Any number of responses, each scored 1-10. The paper samples at temperature 0.5 with the
    responses shuffled per chain and sums the scores over chains.
    """

    name = "pointwise"
    kind = "pointwise"
    verdict_prefix = "Final Scores: [["
    min_responses = 1
    max_responses = None
    default_temperature = 0.5
    low: ClassVar[float] = 1.0
    high: ClassVar[float] = 10.0

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
            text, _FINAL_SCORES, n_responses, self.low, self.high, tail_only=self.tail_only
        )

    def critique(self, text: str) -> str:
        start = text.find("Critique:")
        body = text[start + len("Critique:") :] if start >= 0 else text
        return super().critique(body)


@register_template("judgelrm")
class JudgeLRM(Template):
    """JudgeLRM (Chen et al. 2025): ``<think>``, then ``<answer>s1</answer><answer>s2</answer>``."""

    name = "judgelrm"
    kind = "pointwise"
    verdict_prefix = "</think>\n<answer>"
    score_separator = "</answer><answer>"
    default_temperature = 0.7

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        self.check(request)
        body = render_pair(self, request, order, ["A", "B"])
        return [
            {
                "role": "system",
                "content": self.system_prompt(
                    "You are a helpful and precise judge. Think inside <think> </think>, then "
                    "give each response a score from 1 to 10."
                ),
            },
            {
                "role": "user",
                "content": (
                    f"{body}\n\nReason inside <think>...</think>, then output the two scores "
                    "as <answer>s1</answer><answer>s2</answer>, response A first."
                ),
            },
        ]

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        return parse_repeated_scores(text, _ANSWER_SCORE, n_responses, tail_only=self.tail_only)

    def critique(self, text: str) -> str:
        return think_block(text)
