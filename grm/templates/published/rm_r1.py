"""RM-R1 (Chen et al. 2025): two trained formats, one template each.

Source: RM-R1-UIUC/RM-R1 ``eval/reward-bench/rewardbench/generative.py`` (prompts,
``process_judgement``) and ``eval/reward-bench/scripts/run_generative.py`` (messages,
decoding); RL reward ``rm_r1/verl/utils/reward_score/lm_as_judge.py``.

- Instruct models (``RM-R1-Qwen2.5-Instruct-*``): the whole rubric/eval tag scheme is the
  system message; the user message holds only the question and the two Chatbot responses.
- Reasoning-distilled models (``RM-R1-DeepSeek-Distilled-*``): no system message; one user
  message opens with the judge instruction and ends with the ``<answer>[[A]]</answer>``
  instruction.

Verdict rule (``process_judgement``): ``[[A]]`` or ``[[B]]`` anywhere; a text holding both is
an error (an abstention here). The RL reward reads only the last 80 characters; the eval
rule, which the reported numbers use, is the one kept. Decoding: temperature 0, max tokens
from ``eval/eval_one_command.sh`` (50000; ``run_generative.py`` defaults to 2048).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from grm.parsing import Parsed, find_verdict, parse_choice
from grm.quoting import MAX_CANDIDATES, Text
from grm.templates.base import Decoding, Template, register_template
from grm.templates.published.common import pair_text
from grm.types import JudgeRequest, Message

# process_judgement: '[[A]]' in judgment / '[[B]]' in judgment, both -> "error".
_VERDICT = re.compile(r"\[\[([AB])\]\]")
_DELIMITERS = (
    "[Client Question]",
    "[The Start of Chatbot A's Response]",
    "[The End of Chatbot A's Response]",
    "[The Start of Chatbot B's Response]",
    "[The End of Chatbot B's Response]",
)


def rm_r1_body(template: Template, request: JudgeRequest, order: Sequence[int]) -> str:
    """The question and both responses in RM-R1's Client/Chatbot layout."""
    t = pair_text(template, request, order)
    parts = [f"[Client Question]\n{t.question}"]
    if t.reference is not None:  # not in the original layout: a reference, when given
        parts.append(f"[Reference Answer]\n{t.reference}")
    for label, text in zip("AB", t.responses, strict=True):
        parts.append(
            f"[The Start of Chatbot {label}'s Response]\n{text}\n"
            f"[The End of Chatbot {label}'s Response]"
        )
    return "\n\n".join(parts)


class _RMR1(Template):
    kind = "pairwise"
    choices: ClassVar[tuple[str, ...]] = ("A", "B")
    verdict_prefix = "<answer>[["
    rule = "unique"  # both verdicts present: an error (implemented in parse)
    max_trailing = None
    decoding = Decoding(temperature=0.0, max_tokens=50000)
    delimiters = _DELIMITERS

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        if not self.tail_only:  # the naive rule: the first match anywhere
            return parse_choice(text, _VERDICT, self.choices, None, False)
        match = find_verdict(_VERDICT, text, "last", self.max_trailing)
        if match is None:
            return None
        # Both verdicts present is an error: any unquoted opposite verdict before the last
        # one (a later one would be the last). Literal finds keep this linear and fast.
        other = "[[B]]" if match.group(1) == "A" else "[[A]]"
        quotes, checked = Text(text), 0
        at = text.find(other, 0, match.start())
        while at >= 0:
            checked += 1
            if not quotes.quoted(at) or checked > MAX_CANDIDATES:
                return None
            at = text.find(other, at + 1, match.start())
        return Parsed(winner="AB".index(match.group(1)), choice_start=match.start(1))

    def critique(self, text: str) -> str:
        """The ``<eval>`` section when there is one (RM-R1 evaluates inside it)."""
        start, end = text.find("<eval>"), text.rfind("</eval>")
        if start >= 0 and end > start:
            return text[start + len("<eval>") : end].strip()
        return super().critique(text)


@register_template("rm-r1", "rm-r1-instruct")
class RMR1Instruct(_RMR1):
    """RM-R1 instruct format: rubric/eval tag scheme in the system message."""

    name = "rm-r1"
    source = (
        "RM-R1-UIUC/RM-R1 eval/reward-bench/rewardbench/generative.py "
        "(RM_R1_INSTRUCT_SYSTEM_PROMPT, RM_R1_SINGLE_TURN_INSTRUCT_USER_PROMPT)"
    )
    system = (
        "You are an impartial judge of the responses two AI Chatbots gave to the Client's "
        "question below.\n\n"
        "First decide the kind of task: <type>Reasoning</type> (math, code, domain knowledge, "
        "multi-step inference) or <type>Chat</type> (open conversation, rewriting, safety, "
        "general help).\n\n"
        "For a Reasoning task:\n"
        "1. Solve the question yourself and put your answer inside <solution>...</solution>.\n"
        "2. Judge both responses for correctness, completeness and reasoning against your "
        "solution.\n"
        "3. Write the judgment inside <eval>...</eval>, citing the Chatbots with "
        "<quote_A>...</quote_A>, <summary_A>...</summary_A>, <quote_B>...</quote_B> and "
        "<summary_B>...</summary_B>.\n"
        "4. Finish with <answer>[[A]]</answer> or <answer>[[B]]</answer>.\n\n"
        "For a Chat task:\n"
        "1. Write a rubric for this question inside <rubric>...</rubric>, with a weight for "
        "each item and a <justify>...</justify> part that explains the items and weights.\n"
        "2. Compare both responses against the rubric inside <eval>...</eval>, citing them with "
        "the quote and summary tags above.\n"
        "3. Finish with <answer>[[A]]</answer> or <answer>[[B]]</answer>.\n\n"
        "Stay objective: response order, length and Chatbot names must not sway you.\n\n"
        "Reasoning output: <type>Reasoning</type>, <solution>...</solution>, <eval>...</eval>, "
        "<answer>[[A/B]]</answer>.\n"
        "Chat output: <type>Chat</type>, <rubric>... <justify>...</justify></rubric>, "
        "<eval>...</eval>, <answer>[[A/B]]</answer>."
    )

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        return [
            {"role": "system", "content": self.system_prompt(self.system)},
            {"role": "user", "content": rm_r1_body(self, request, order)},
        ]


@register_template("rm-r1-reasoning")
class RMR1Reasoning(_RMR1):
    """RM-R1 reasoning-distilled format: one user message, no system message."""

    name = "rm-r1-reasoning"
    # The distilled models think first (their chat template opens <think>).
    verdict_prefix = "\n</think>\n\n<answer>[["
    source = (
        "RM-R1-UIUC/RM-R1 eval/reward-bench/rewardbench/generative.py "
        "(RM_R1_SINGLE_TURN_REASONING_USER_PROMPT); scripts/run_generative.py sends it as "
        "the only message"
    )
    opening = (
        "Act as an impartial judge of the responses two AI Chatbots gave to the Client "
        "question below."
    )
    closing = (
        "Give your final verdict at the very end in exactly this format: "
        "'<answer>[[A]]</answer>' if Chatbot A is better, or '<answer>[[B]]</answer>' if "
        "Chatbot B is better."
    )

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        body = rm_r1_body(self, request, order)
        content = f"{self.guard_text()}{self.opening}\n\n{body}\n\n{self.closing}"
        return [{"role": "user", "content": content}]
