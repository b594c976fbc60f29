"""Pairwise templates: reasoning, then which of two responses is better."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from grm.parsing import Parsed, after_last, parse_choice
from grm.templates.base import Template, register_template, slot_label, think_block
from grm.types import JudgeRequest, Message

_BRACKET = re.compile(r"\[\[\s*([AB])\s*\]\]", re.I)
_ANSWER_BRACKET = re.compile(r"<answer>\s*\[\[\s*([AB])\s*\]\]\s*</answer>", re.I)
_BOXED_ASSISTANT = re.compile(r"\\boxed\{\s*(?:Assistant|Response)?\s*([12])\s*\}")


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
        return parse_choice(text, self.pattern, self.choices, tail_only=self.tail_only)


@register_template("default", "pairwise")
class DefaultPairwise(_PairwiseTemplate):
    """grm's own pairwise format: short reasoning, then ``Final verdict: [[A]]`` as the tail."""

    name = "default"
    verdict_prefix = "Final verdict: [["
    system = (
        "You are an impartial judge. You compare two responses to a user's question and "
        "decide which one is better: correct, helpful and honest."
    )
    instruction = (
        "Think step by step: check each response against the question (and the reference, "
        "if given), then decide. End with exactly one line, 'Final verdict: [[A]]' if "
        "response A is better or 'Final verdict: [[B]]' if response B is better."
    )


@register_template("rm-r1")
class RMR1(_PairwiseTemplate):
    """RM-R1 (Chen et al. 2025): rubric or solution first, then ``<answer>[[A]]</answer>``."""

    name = "rm-r1"
    verdict_prefix = "<answer>[["
    pattern = _ANSWER_BRACKET
    system = (
        "Please act as an impartial judge and evaluate the quality of the responses provided "
        "by two AI Chatbots to the Client question displayed below. First generate a rubric "
        "for the question (or solve it yourself if it has a correct answer), then evaluate "
        "both responses against it inside <eval> tags."
    )
    instruction = (
        "After your evaluation, output your final verdict by strictly following this format: "
        "'<answer>[[A]]</answer>' if Chatbot A is better, or '<answer>[[B]]</answer>' if "
        "Chatbot B is better."
    )

    def critique(self, text: str) -> str:
        """The ``<eval>`` section when there is one (RM-R1 evaluates inside it)."""
        start, end = text.find("<eval>"), text.rfind("</eval>")
        if start >= 0 and end > start:
            return text[start + len("<eval>") : end].strip()
        return super().critique(text)


@register_template("j1")
class J1(_PairwiseTemplate):
    """J1 (Whitehouse et al. 2025): ``<think>...</think>`` then ``<answer>[[A]]</answer>``.

    Only the text after the last ``</think>`` is read, so a verdict inside the thinking is
    never taken for the answer.
    """

    name = "j1"
    verdict_prefix = "</think>\n<answer>[["
    pattern = _ANSWER_BRACKET
    system = (
        "You are a helpful assistant that judges responses. Think about the question and "
        "both responses inside <think> </think> tags, then give your verdict inside <answer> "
        "</answer> tags."
    )
    instruction = (
        "Which response is better? Reason inside <think>...</think>, then answer with "
        "<answer>[[A]]</answer> or <answer>[[B]]</answer>."
    )

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        tail = after_last(text, "</think>")
        if tail is None:
            return None
        rest, offset = tail
        parsed = parse_choice(rest, self.pattern, self.choices, tail_only=self.tail_only)
        if parsed is None or parsed.choice_start is None:
            return parsed
        return Parsed(winner=parsed.winner, choice_start=parsed.choice_start + offset)

    def critique(self, text: str) -> str:
        return think_block(text)


@register_template("rrm")
class RRM(_PairwiseTemplate):
    """RRM (Guo et al. 2025): long reasoning, verdict as ``\\boxed{Assistant 1}`` or ``2``."""

    name = "rrm"
    verdict_prefix = "\\boxed{Assistant "
    choices = ("1", "2")
    pattern = _BOXED_ASSISTANT
    system = (
        "You are a helpful assistant in evaluating the quality of the outputs for a given "
        "instruction. Your goal is to select the best output. Output 1 is in <response_A>, "
        "Output 2 in <response_B>."
    )
    instruction = (
        "Think carefully about which output follows the instruction better, then put your "
        "final choice in a box: \\boxed{Assistant 1} or \\boxed{Assistant 2}."
    )
