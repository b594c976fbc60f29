"""RRM, Reward Reasoning Models (Guo et al. 2025).

Source: the RRM evaluation code (Reward-Reasoning, a modified RewardBench):
``rewardbench/generative.py`` (``Skywork_SYSTEM_PROMPT``, ``Skywork_PROMPT``,
``Skywork_ASSISTANT_PROMPT``, the "Skywork" ``model_modifier``) and
``scripts/run_generative.py`` (parsing) with ``scripts/run_7b.sh`` (decoding).

Layout: the rules are the system message; the user message holds ``## Query``, then
``## Assistant responses`` with ``### Assistant 1`` / ``### Assistant 2``, and ends with the
``## Analysis`` cue to decide between ``\\boxed{Assistant 1}`` and ``\\boxed{Assistant 2}``.
The checkpoints are DeepSeek-R1 distills whose chat template opens the turn with ``<think>``.

Verdict rule: the script prepends ``<think>``, needs ``</think>``, keeps the text between
the first ``</think>`` and the next, and takes the last ``\\boxed{...}`` there; its content
must be exactly ``Assistant 1`` or ``Assistant 2``; anything else is a tie. Decoding:
temperature 0.6, 8192 new tokens (``run_7b.sh``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from grm.parsing import Parsed, between, find_verdict
from grm.templates.base import Decoding, Template, register_template, think_block
from grm.templates.published.common import pair_text
from grm.types import JudgeRequest, Message

# last_boxed_only_string + remove_boxed: the last "\boxed" (closed or not), its content
# compared exactly; an unclosed last box is an error even after a complete one.
_BOXED = re.compile(r"\\boxed(\{[^{}]*\})?")
_LABELS = ("Assistant 1", "Assistant 2")


@register_template("rrm")
class RRM(Template):
    """RRM: rules as system message, ``## Query`` layout, verdict ``\\boxed{Assistant 1|2}``."""

    name = "rrm"
    kind = "pairwise"
    choices: ClassVar[tuple[str, ...]] = ("1", "2")
    # A cut chain is still thinking: close the thinking, then open the box.
    verdict_prefix = "\n</think>\n\n\\boxed{Assistant "
    max_trailing = None
    decoding = Decoding(temperature=0.6, max_tokens=8192)
    source = (
        "RRM evaluation code rewardbench/generative.py (Skywork_* prompts) and "
        "scripts/run_generative.py (extract_answer after </think>), scripts/run_7b.sh"
    )
    delimiters = ("## Query", "## Assistant responses", "### Assistant 1", "### Assistant 2",
                  "## Analysis")  # fmt: skip
    system = (
        "You judge the quality of two responses to an instruction and pick the better one: "
        "Assistant 1 or Assistant 2. Two different AI assistants wrote them. Never answer "
        "that both or neither are good.\n\n"
        "Rules:\n"
        "(1) Unless the instruction is harmful, first check whether a response carries out "
        "the instruction honestly, precisely and closely; then weigh helpfulness, accuracy, "
        "detail and harmlessness.\n"
        "(2) If the instruction is harmful, put harmlessness and safety first.\n"
        "(3) A response must give neither more nor less than the instruction asks for.\n"
        "(4) Be objective. The order of the responses must not matter: each is equally "
        "likely to be the better one. Length must not matter either: judge whether the "
        "length suits the instruction.\n"
        "(5) Your answer is only '\\boxed{Assistant 1}' if assistant 1 is better or "
        "'\\boxed{Assistant 2}' if assistant 2 is better."
    )
    cue = (
        "## Analysis\n\nAnalyse the two responses step by step, decide which assistant is "
        "better, then answer \\boxed{Assistant 1} or \\boxed{Assistant 2}."
    )

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        t = pair_text(self, request, order)
        query = t.question
        if t.reference is not None:  # not in the original layout
            query += f"\n\n## Reference answer\n\n{t.reference}"
        body = (
            f"## Query\n\n{query}\n\n## Assistant responses\n\n"
            f"### Assistant 1\n\n{t.responses[0]}\n\n\n### Assistant 2\n\n{t.responses[1]}\n\n"
        )
        return [
            {"role": "system", "content": self.system_prompt(self.system)},
            {"role": "user", "content": body + self.cue},
        ]

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        # The turn opens with <think> (the chat template's); the verdict follows </think>.
        span = between("<think>" + text, "</think>")
        if span is None:
            return None
        start, end = span[0] - len("<think>"), span[1] - len("<think>")
        match = find_verdict(_BOXED, text, "last", self.max_trailing, self.tail_only, start, end)
        if match is None or match.group(1) is None or match.group(1)[1:-1] not in _LABELS:
            return None
        slot = _LABELS.index(match.group(1)[1:-1])
        return Parsed(winner=slot, choice_start=match.start(1) + len("{Assistant "))

    def critique(self, text: str) -> str:
        """The thinking (the turn opens inside ``<think>``), or the text before the box."""
        if "</think>" in text:
            return think_block(text)
        box = text.rfind("\\boxed")
        return (text[:box] if box >= 0 else text).strip()
