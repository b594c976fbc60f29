"""Anthropic HH-RLHF transcripts: two whole dialogues that differ in the last assistant reply.

A row is ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": "..."}`` (the format
of ``anthropics/hh-rlhf``). A turn starts at a ``"\\n\\nHuman:"`` or ``"\\n\\nAssistant:"``
marker and runs to the next one; a marker without the blank line before it ("Human:" inside
a reply) is text. The shared part, everything before the last ``"\\n\\nAssistant:"``, is the
conversation (a chat message list, user and assistant roles); the two last assistant
replies are the responses, ``chosen`` the preferred one.

A pair is refused, with the reason, when a transcript does not start with a Human turn or does
not end with an assistant reply, when the two differ before their last assistant turn (a
different conversation is not a preference between replies), when a last reply is empty, or
when both end with the same reply (no preference to judge).

>>> prompt, a, b = hh_pair(
...     "\\n\\nHuman: Hi\\n\\nAssistant: Hello!\\n\\nHuman: 2+2?\\n\\nAssistant: 4",
...     "\\n\\nHuman: Hi\\n\\nAssistant: Hello!\\n\\nHuman: 2+2?\\n\\nAssistant: 5",
... )
>>> [m["role"] for m in prompt], prompt[-1]["content"], a, b
(['user', 'assistant', 'user'], '2+2?', '4', '5')
"""

from __future__ import annotations

import re

from grm.types import Message

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
_MARKER = re.compile(r"\n\n(Human|Assistant):")
_ROLE = {"Human": "user", "Assistant": "assistant"}


class TranscriptError(ValueError):
    """A transcript pair that cannot be read; ``kind`` sorts it for data reports."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


def is_transcript(value: object) -> bool:
    """True for text in HH-RLHF's transcript format (it starts with a Human turn)."""
    return isinstance(value, str) and value.startswith(HUMAN)


def split_turns(text: str, field: str = "transcript") -> list[Message]:
    """The turns of one transcript as chat messages (contents stripped of outer whitespace).

    >>> split_turns("\\n\\nHuman: a\\nHuman: b\\n\\nAssistant:")
    [{'role': 'user', 'content': 'a\\nHuman: b'}, {'role': 'assistant', 'content': ''}]
    """
    if not isinstance(text, str):
        raise TranscriptError(
            f"'{field}' is a {type(text).__name__}; an HH-RLHF transcript is text."
        )
    if not text.startswith(HUMAN):
        raise TranscriptError(
            f"'{field}' does not start with '\\n\\nHuman:' (it starts {text[:30]!r}); an "
            "HH-RLHF transcript opens with a Human turn. Name another data format, or give "
            "the row a 'prompt' column."
        )
    parts = _MARKER.split(text)  # ['', 'Human', ' ...', 'Assistant', ' ...', ...]
    return [
        {"role": _ROLE[parts[i]], "content": parts[i + 1].strip()} for i in range(1, len(parts), 2)
    ]


def _first_difference(a: list[Message], b: list[Message]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def hh_pair(chosen: str, rejected: str) -> tuple[list[Message], str, str]:
    """(conversation, chosen reply, rejected reply) of one HH-RLHF row; raises
    :class:`TranscriptError` naming the field and the reason when the pair is not usable."""
    turns = {"chosen": split_turns(chosen, "chosen"), "rejected": split_turns(rejected, "rejected")}
    for field, msgs in turns.items():
        if msgs[-1]["role"] != "assistant":
            raise TranscriptError(
                f"'{field}' ends with a Human turn; an HH-RLHF transcript ends with the "
                "assistant reply being compared."
            )
    # Exact: the shared part is the raw text before the last "\n\nAssistant:" of each.
    if chosen[: chosen.rfind(ASSISTANT)] != rejected[: rejected.rfind(ASSISTANT)]:
        c, r = turns["chosen"][:-1], turns["rejected"][:-1]
        at = _first_difference(c, r)
        where = (
            f"turn {at + 1} ({(c if at < len(c) else r)[at]['role']})"
            if at < max(len(c), len(r))
            else "in whitespace only"
        )
        raise TranscriptError(
            f"'chosen' and 'rejected' differ before their last assistant turn ({where}; "
            f"{len(c) + 1} and {len(r) + 1} turns); an HH-RLHF pair shares the conversation "
            "and differs only in the last reply."
        )
    a, b = turns["chosen"][-1]["content"], turns["rejected"][-1]["content"]
    for field, reply in (("chosen", a), ("rejected", b)):
        if not reply:
            raise TranscriptError(
                f"the last assistant reply of '{field}' is empty; there is nothing to judge "
                "(drop the row).",
                "empty_response",
            )
    if a == b:
        raise TranscriptError(
            "'chosen' and 'rejected' end with the same reply; there is no preference to judge."
        )
    return turns["chosen"][:-1], a, b
