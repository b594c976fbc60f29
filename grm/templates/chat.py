"""Chat-message helpers shared by the engines: prompts that every chat template accepts."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from grm.types import Message


def merge_system(messages: Sequence[Message]) -> list[Message]:
    """Fold the system message into the first user message (for chat templates that
    reject the system role, such as Gemma-2's, which DeepSeek-GRM is built on).

    >>> merge_system([{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q"}])
    [{'role': 'user', 'content': 'Rules.\\n\\nQ'}]
    """
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest: list[Message] = [dict(m) for m in messages if m["role"] != "system"]
    if not system:
        return rest
    head = "\n\n".join(str(s) for s in system)
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{head}\n\n{m['content']}"
            break
    else:
        rest.insert(0, {"role": "user", "content": head})
    return rest


def render_with_fallback(apply: Callable[[list[Message]], str], messages: Sequence[Message]) -> str:
    """Render with the model's chat template; if it raises on a system message, render
    again with the system text merged into the first user turn."""
    try:
        return apply(list(messages))
    except Exception:
        if not any(m["role"] == "system" for m in messages):
            raise
        return apply(merge_system(messages))
