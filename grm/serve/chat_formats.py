"""Recover the conversation from a query rendered in a policy's chat format.

OpenRLHF decodes the query with the POLICY's tokenizer, special tokens kept
(``openrlhf/utils/agent.py``: ``hf_tokenizer.decode(..., skip_special_tokens=False)``), so a
Llama policy judged by a Qwen judge sends ``<|start_header_id|>user<|end_header_id|>...``:
the judge's own special tokens do not cover it, and role words, the policy's system prompt
and its markers would reach the judge as text. Each parser here is a pure function from a
rendered text to its turns; :func:`detect` names the format a text is in, and
:func:`conversation` gives the plain prompt and response with system turns dropped.

The markers are the families' own chat templates (``tokenizer_config.json`` ``chat_template``):

- ``llama3``: ``<|begin_of_text|><|start_header_id|>ROLE<|end_header_id|>\\n\\nTEXT<|eot_id|>``
- ``chatml`` (Qwen, SmolLM, Phi-4 with ``<|im_sep|>``): ``<|im_start|>ROLE\\nTEXT<|im_end|>``
- ``gemma``: ``<bos><start_of_turn>user\\nTEXT<end_of_turn>\\n<start_of_turn>model\\n``
- ``deepseek`` (V2/V3/R1): ``<｜begin▁of▁sentence｜>SYSTEM<｜User｜>TEXT<｜Assistant｜>TEXT
  <｜end▁of▁sentence｜>`` (full-width bars)
- ``phi3``: ``<|user|>\\nTEXT<|end|>\\n<|assistant|>\\nTEXT<|end|>``
- ``mistral``: ``<s>[INST] TEXT [/INST]TEXT</s>`` (v7 adds ``[SYSTEM_PROMPT]...[/SYSTEM_PROMPT]``)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    role: str
    """'system', 'user' or 'assistant' (a family's own names are mapped to these)."""
    text: str


@dataclass(frozen=True)
class Conversation:
    prompt: str
    """The user's side before the response: one turn's text, or ``role: text`` lines."""
    response: str
    """The last assistant turn ('' when the text ends on a user turn)."""


ROLES = {"model": "assistant", "User": "user", "Assistant": "assistant", "human": "user"}


def _turns(pattern: re.Pattern[str], text: str, noise: tuple[str, ...]) -> list[Turn]:
    for token in noise:
        text = text.replace(token, "")
    return [
        Turn(ROLES.get(m["role"], m["role"].lower()), m["text"].strip())
        for m in pattern.finditer(text)
    ]


_LLAMA3 = re.compile(
    r"<\|start_header_id\|>(?P<role>[^<]+?)<\|end_header_id\|>\n*"
    r"(?P<text>.*?)(?:<\|eot_id\|>|(?=<\|start_header_id\|>)|\Z)",
    re.S,
)
_CHATML = re.compile(
    r"<\|im_start\|>(?P<role>\w+)(?:\n|<\|im_sep\|>)"
    r"(?P<text>.*?)(?:<\|im_end\|>|(?=<\|im_start\|>)|\Z)",
    re.S,
)
_GEMMA = re.compile(
    r"<start_of_turn>(?P<role>\w+)\n(?P<text>.*?)(?:<end_of_turn>|(?=<start_of_turn>)|\Z)", re.S
)
_PHI3 = re.compile(
    r"<\|(?P<role>system|user|assistant)\|>\n?"
    r"(?P<text>.*?)(?:<\|end\|>|(?=<\|(?:system|user|assistant)\|>)|\Z)",
    re.S,
)
_DEEPSEEK = re.compile(
    r"<｜(?P<role>User|Assistant)｜>(?P<text>.*?)(?:<｜end▁of▁sentence｜>|(?=<｜(?:User|Assistant)｜>)|\Z)",
    re.S,
)
_MISTRAL = re.compile(
    r"\[INST\](?P<user>.*?)\[/INST\](?P<assistant>.*?)"
    r"(?:</s>|(?=\[INST\])|\Z)",
    re.S,
)


def parse_llama3(text: str) -> list[Turn]:
    return _turns(_LLAMA3, text, ("<|begin_of_text|>", "<|end_of_text|>"))


def parse_chatml(text: str) -> list[Turn]:
    return _turns(_CHATML, text, ("<|endoftext|>",))


def parse_gemma(text: str) -> list[Turn]:
    return _turns(_GEMMA, text, ("<bos>", "<eos>"))


def parse_phi3(text: str) -> list[Turn]:
    return _turns(_PHI3, text, ("<|endoftext|>",))


def parse_deepseek(text: str) -> list[Turn]:
    text = text.replace("<｜begin▁of▁sentence｜>", "")
    head, _, _ = text.partition("<｜")
    turns = [Turn("system", head.strip())] if head.strip() else []
    return turns + _turns(_DEEPSEEK, text, ())


def parse_mistral(text: str) -> list[Turn]:
    text = re.sub(r"\[SYSTEM_PROMPT\].*?\[/SYSTEM_PROMPT\]", "", text, flags=re.S)
    turns: list[Turn] = []
    for m in _MISTRAL.finditer(text.replace("<s>", "")):
        turns.append(Turn("user", m["user"].strip()))
        if m["assistant"].strip():
            turns.append(Turn("assistant", m["assistant"].strip()))
    return turns


@dataclass(frozen=True)
class ChatFormat:
    name: str
    markers: tuple[str, ...]
    """Any of these in a text means it is in this format."""
    parse: Callable[[str], list[Turn]]


#: Name-keyed registry, in detection order (the most specific markers first).
FORMATS: dict[str, ChatFormat] = {
    f.name: f
    for f in (
        ChatFormat("llama3", ("<|start_header_id|>",), parse_llama3),
        ChatFormat("chatml", ("<|im_start|>",), parse_chatml),
        ChatFormat("gemma", ("<start_of_turn>",), parse_gemma),
        ChatFormat("deepseek", ("<｜User｜>", "<｜Assistant｜>"), parse_deepseek),
        ChatFormat("phi3", ("<|user|>", "<|assistant|>"), parse_phi3),
        ChatFormat("mistral", ("[INST]",), parse_mistral),
    )
}


def format_names() -> list[str]:
    return list(FORMATS)


def detect(text: str) -> str | None:
    """The chat format ``text`` is rendered in, or None for plain text.

    >>> detect("<|im_start|>user\\nHi<|im_end|>"), detect("[INST] Hi [/INST]"), detect("Hi")
    ('chatml', 'mistral', None)
    """
    for fmt in FORMATS.values():
        if any(marker in text for marker in fmt.markers):
            return fmt.name
    return None


def conversation(text: str, fmt: str | None = None) -> Conversation | None:
    """The plain prompt and response of a rendered conversation (system turns dropped), or
    None when ``text`` is in no known format.

    >>> conversation("<start_of_turn>user\\n2+2?<end_of_turn><start_of_turn>model\\n4")
    Conversation(prompt='2+2?', response='4')
    """
    name = fmt or detect(text)
    if name is None:
        return None
    turns = [t for t in FORMATS[name].parse(text) if t.role != "system"]
    if not turns:
        return None
    response = ""
    if turns[-1].role == "assistant":
        response, turns = turns[-1].text, turns[:-1]
    lines = [f"{t.role}: {t.text}" for t in turns]
    prompt = turns[0].text if len(turns) == 1 else "\n".join(lines)
    return Conversation(prompt, response)
