"""What OpenRLHF's remote reward client sends, turned into judge requests.

The client (``openrlhf/utils/agent.py``, flag ``--reward.remote_url``) posts one sample a
call: ``{"query": [prompt + response decoded with special tokens kept], "prompts": [the
prompt text], "labels": [the dataset label, any JSON type]}`` and reads ``rewards``,
``scores`` and ``extra_logs``. The prompt it tokenised may have been cut from the left to
fit ``max_len``, so the query can start in the middle of the prompt. It sends no token,
waits 180 s, retries 5 times on any error (a 4xx included), then drops the reward with an
INFO log.
"""

from __future__ import annotations

from collections.abc import Sequence

from grm.ground_truth import label_text

__all__ = ["label_text", "response_of", "strip_special"]

#: Characters of the prompt's end searched for in the query to find where the response starts.
_TAIL = 48
#: Shortest surviving prompt end taken as a match (shorter ones match by chance).
_MIN_MATCH = 8


def strip_special(text: str, tokens: Sequence[str]) -> str:
    """Remove every special token (longest first) and trim the whitespace around the text.

    >>> strip_special("<|im_start|>user\\nHi<|im_end|>", ["<|im_start|>", "<|im_end|>"])
    'user\\nHi'
    """
    for tok in sorted({t for t in tokens if t}, key=len, reverse=True):
        text = text.replace(tok, "")
    return text.strip()


def response_of(query: str, prompt: str | None) -> str:
    """The response inside an OpenRLHF query (prompt + response), even when the prompt was
    cut from the left before generation.

    The query then starts with a suffix of the prompt: the response begins after the
    longest prefix of the query that is a suffix of the prompt. Without a prompt, or when
    no such prefix is found, the whole query is the response.

    >>> response_of("Q: 2+2? A: 4", "Q: 2+2? A:")
    ' 4'
    >>> response_of("is 2+2? Answer: 4", "Question: what is 2+2? Answer:")  # head cut off
    ' 4'
    >>> response_of("just a response", "other prompt")
    'just a response'
    """
    if not prompt:
        return query
    if query.startswith(prompt):
        return query[len(prompt) :]
    tail = prompt[-_TAIL:]
    best = None
    start = query.find(tail)
    while start != -1:
        end = start + len(tail)
        # Decoding a cut token sequence may garble its first characters: allow a few.
        if any(prompt.endswith(query[skip:end]) for skip in range(0, min(4, end))):
            best = end
        start = query.find(tail, start + 1)
    if best is None:  # less of the prompt survived than the tail: match its end directly
        for end in range(min(len(query), len(prompt), _TAIL), _MIN_MATCH - 1, -1):
            if any(prompt.endswith(query[skip:end]) for skip in range(0, 4)):
                best = end
                break
    return query if best is None else query[best:]
