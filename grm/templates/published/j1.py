"""J1 (Whitehouse et al. 2025), pairwise with verdict.

Source: facebookresearch/fairseq2
``src/fairseq2/recipes/lm/_online_finetune/_generative_judge.py`` (``PAIRWISE_J1_PROMPT``,
``J1PairwisePreferenceExtractor``): one user message and no system message; reasoning in
``<think>`` tags, then ``<answer> [[A]] </answer>``. The verdict is the last
``<answer>\\s*[[A|B]]\\s*</answer>`` match; no closing think tag is required. The recipe sets
no evaluation decoding of its own, so grm's defaults apply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from grm.parsing import Parsed, parse_choice
from grm.templates.base import Template, register_template, think_block
from grm.templates.published.common import pair_text
from grm.types import JudgeRequest, Message

# J1PairwisePreferenceExtractor.extract: re.findall(r"<answer>\s*\[\[(A|B)\]\]\s*</answer>")[-1]
_VERDICT = re.compile(r"<answer>\s*\[\[(A|B)\]\]\s*</answer>")


@register_template("j1")
class J1(Template):
    """J1 pairwise: one user message, ``<think>`` then ``<answer> [[A]] </answer>``."""

    name = "j1"
    kind = "pairwise"
    choices: ClassVar[tuple[str, ...]] = ("A", "B")
    verdict_prefix = "</think>\n<answer> [["
    max_trailing = None
    source = (
        "facebookresearch/fairseq2 src/fairseq2/recipes/lm/_online_finetune/"
        "_generative_judge.py (PAIRWISE_J1_PROMPT, J1PairwisePreferenceExtractor)"
    )
    delimiters = (
        "[User Question]",
        "[The Start of Assistant A's Answer]",
        "[The End of Assistant A's Answer]",
        "[The Start of Assistant B's Answer]",
        "[The End of Assistant B's Answer]",
    )
    instruction = (
        "You see a user question and the answers of two AI assistants. Judge which answer "
        "follows the user's instructions better and is of higher quality.\n\n"
        "Reason first inside <think> and </think>: set criteria for a good answer, compare "
        "both answers against them in detail, and work out a reference answer when that "
        "helps.\n\n"
        "Neither the order of the answers, nor their length, nor the assistants' names may "
        "influence you. Be objective.\n\n"
        "Then give your verdict inside <answer> and </answer>, exactly:\n"
        "- <answer> [[A]] </answer> if Assistant A is better\n"
        "- <answer> [[B]] </answer> if Assistant B is better\n\n"
        "The user's question and the two answers:"
    )

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        t = pair_text(self, request, order)
        parts = [f"{self.guard_text()}{self.instruction}", f"[User Question]\n{t.question}"]
        if t.reference is not None:  # not in the original layout
            parts.append(f"[Reference Answer]\n{t.reference}")
        for label, text in zip("AB", t.responses, strict=True):
            parts.append(
                f"[The Start of Assistant {label}'s Answer]\n{text}\n"
                f"[The End of Assistant {label}'s Answer]"
            )
        return [{"role": "user", "content": "\n\n".join(parts) + "\n"}]

    def parse(self, text: str, n_responses: int = 2) -> Parsed | None:
        return parse_choice(
            text, _VERDICT, self.choices, self.max_trailing, self.tail_only, self.rule
        )

    def critique(self, text: str) -> str:
        return think_block(text)
