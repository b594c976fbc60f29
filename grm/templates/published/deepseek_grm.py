"""DeepSeek-GRM (Liu et al. 2025, "Inference-Time Scaling for Generalist Reward Modeling").

Source: the paper's appendix prompts (no official code). The judge writes principles,
analyses each response against them, and ends with ``Scores: \\boxed{x, y}``: one integer
1-10 per response, in the order shown. The checkpoints are built on Gemma-2, whose chat
template has no system role, so the whole prompt is one user message. The paper samples
at temperature 0.5 with the responses shuffled per chain and sums scores over chains.
Verdict rule: the last ``Scores: \\boxed{...}``; a list of the wrong length, a non-integer
or an out-of-range score is no verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grm.parsing import Parsed, parse_score_list
from grm.templates.base import Decoding, Template, register_template
from grm.templates.published.common import pair_text
from grm.types import JudgeRequest, Message

_SCORES = re.compile(r"Scores:\s*\\boxed\{([^{}]*)\}")


@register_template("deepseek-grm")
class DeepSeekGRM(Template):
    """DeepSeek-GRM: principles, analysis, ``Scores: \\boxed{s1, s2, ...}`` with 1-10 each."""

    name = "deepseek-grm"
    kind = "pointwise"
    verdict_prefix = "Scores: \\boxed{"
    score_separator = ", "
    score_close = "}"
    min_responses = 1
    max_responses = None
    max_trailing = None
    decoding = Decoding(temperature=0.5)
    source = "DeepSeek-GRM paper appendix (arXiv:2504.02495); no official code"
    delimiters = ("[Query]", "[Response ", "[End of Response ")

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        t = pair_text(self, request, order)
        n = len(t.responses)
        parts = [
            f"{self.guard_text()}You are a skilled judge of answers. Write the principles that "
            "matter most for this query, analyse each response against them, then score each "
            "response with an integer from 1 (poor) to 10 (excellent).",
            f"[Query]\n{t.question}",
        ]
        if t.reference is not None:
            parts.append(f"[Reference]\n{t.reference}")
        for i, text in enumerate(t.responses, 1):
            parts.append(f"[Response {i}]\n{text}\n[End of Response {i}]")
        example = ", ".join(f"s{i}" for i in range(1, n + 1))
        parts.append(
            "Write your principles, then your analysis, and end with exactly one line "
            f"'Scores: \\boxed{{{example}}}' giving the {n} score{'s' if n > 1 else ''} in "
            "the order shown."
        )
        return [{"role": "user", "content": "\n\n".join(parts)}]

    def parse(self, text: str, n_responses: int) -> Parsed | None:
        return parse_score_list(
            text, _SCORES, n_responses, self.low, self.high, self.max_trailing,
            self.tail_only, integer=True,
        )  # fmt: skip
