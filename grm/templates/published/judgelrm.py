"""JudgeLRM (Chen et al. 2025).

Source: NuoJohnChen/JudgeLRM ``src/examples/data_preprocess/judgelrm.py`` (the
``qwen-instruct`` training prompt), ``src/verl/utils/reward_score/judgelrm.py`` (RL reward)
and ``baseline/inference/pandalm/utils/judgelrm_inference.py`` (evaluation).

Layout: every instruction is in the system message; the user message holds ``[Question]``
and ``[Assistant 1's Answer]`` / ``[Assistant 2's Answer]``; the assistant turn is prefilled
with ``<think>``. The judge writes ``</think>`` then two ``<answer>N</answer>`` tags, integers
0-10 (the reward checks 0 <= s <= 10).

Verdict rule: evaluation keeps the text after the first ``</think>`` (``split[1]``; a chain
without it is a tie) and takes the first two ``<answer>\\s*(\\d+)\\s*</answer>`` matches.
Decoding: ``max_new_tokens=4096`` and temperature 0.1 in the evaluation script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from grm.parsing import Parsed, between, parse_repeated_scores
from grm.templates.base import Decoding, Template, register_template, think_block
from grm.templates.published.common import pair_text
from grm.types import JudgeRequest, Message

# parse_judge_lrm_response: re.findall(r'<answer>\s*(\d+)\s*</answer>', text)[:2]
_ANSWER = re.compile(r"<answer>\s*([0-9]+)\s*</answer>")


@register_template("judgelrm")
class JudgeLRM(Template):
    """JudgeLRM: instructions as system message, ``<think>`` prefill, two ``<answer>`` scores."""

    name = "judgelrm"
    kind = "pointwise"
    verdict_prefix = "</think><answer>"
    score_separator = "</answer><answer>"
    score_close = "</answer>"
    prefill = "<think>"
    rule = "first"
    max_trailing = None
    low = 0.0
    high = 10.0
    decoding = Decoding(temperature=0.1, max_tokens=4096)
    source = (
        "NuoJohnChen/JudgeLRM src/examples/data_preprocess/judgelrm.py, "
        "src/verl/utils/reward_score/judgelrm.py, "
        "baseline/inference/pandalm/utils/judgelrm_inference.py"
    )
    delimiters = ("[Question]", "[Assistant 1's Answer]", "[Assistant 2's Answer]")
    system = (
        "You are a helpful assistant. You first reason step by step in your mind, then give "
        "the user your answer. The reasoning goes inside <think> </think> and the answer "
        "inside <answer> </answer>: <think> step-by-step reasoning that explains how you "
        "evaluate each assistant </think><answer> answer </answer>. The user asks you to "
        "judge how two AI assistants answered a question. Score each assistant from 1 to 10 "
        "(higher is better) for helpfulness, relevance, accuracy and detail, without bias "
        "from order, length or style. When you reach your conclusion, give the two scores "
        "in <answer> </answer> tags, for example <answer>3</answer><answer>5</answer>"
    )

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        t = pair_text(self, request, order)
        question = t.question
        if t.reference is not None:  # not in the original layout
            question += f"\n\n[Reference Answer]\n{t.reference}"
        body = (
            f"[Question]\n{question}\n\n[Assistant 1's Answer]\n{t.responses[0]}\n\n"
            f"[Assistant 2's Answer]\n{t.responses[1]}"
        )
        return [
            {"role": "system", "content": self.system_prompt(self.system)},
            {"role": "user", "content": body},
        ]

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        span = between(text, "</think>")
        if span is None:
            return None
        return parse_repeated_scores(
            text, _ANSWER, 2, self.low, self.high, self.max_trailing, self.tail_only,
            rule="first", integer=True, start=span[0], end=span[1],
        )  # fmt: skip

    def critique(self, text: str) -> str:
        return think_block(text)
