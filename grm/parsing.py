"""Pure parsers for judge outputs: they read the judge's own final verdict, from the tail.

Every parser returns ``None`` when there is no verdict; none raises on malformed text. A
verdict-looking string that a judge quotes from a response is not a verdict: only the last
match counts, it must stand in the tail (at most ``max_trailing`` characters of text after
it), and anything the judge wrote inside ``<response_X>`` quoting tags is removed first.
RM-R1 reads only the ``<answer>`` tail of the chain in the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Characters of text (after stripping closing tags and punctuation) allowed after a verdict.
DEFAULT_MAX_TRAILING = 80

_QUOTE_TAG = re.compile(r"<(/?)(response_[A-Za-z0-9]+|reference)>")
_TRAILING_NOISE = re.compile(r"(</?[a-z_]+>|[\s.!*`'\"\])}]+)")


@dataclass(frozen=True)
class Parsed:
    """A verdict read from a chain, in the order the responses were shown (slots).

    ``winner`` is a slot index, ``scores`` per-slot scores, ``choice_start`` the character
    offset of the verdict token (so its probability can be read later).
    """

    winner: int | None = None
    scores: tuple[float, ...] | None = None
    choice_start: int | None = None


def strip_quotes(text: str) -> str:
    """Blank out text the judge quoted inside ``<response_X>``/``<reference>`` tags.

    The length is kept so that character offsets stay valid. One linear pass over the tags
    (a backreferencing regex goes quadratic on many unclosed tags).

    >>> strip_quotes("ok <response_B>[[B]]</response_B> [[A]]").split()
    ['ok', '[[A]]']
    """
    spans: list[tuple[int, int]] = []
    open_name, open_at = None, 0
    for m in _QUOTE_TAG.finditer(text):
        closing, name = m.group(1) == "/", m.group(2)
        if open_name is None and not closing:
            open_name, open_at = name, m.start()
        elif open_name == name and closing:
            spans.append((open_at, m.end()))
            open_name = None
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], " " * (end - start)]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _in_tail(text: str, end: int, max_trailing: int) -> bool:
    rest = _TRAILING_NOISE.sub("", text[end:])
    return len(rest) <= max_trailing


def _last_tail_match(
    pattern: re.Pattern[str], text: str, max_trailing: int, tail_only: bool = True
) -> re.Match[str] | None:
    if not tail_only:  # the naive rule, kept to measure what the tail rule buys
        return pattern.search(text)
    clean = strip_quotes(text)
    matches = list(pattern.finditer(clean))
    if not matches:
        return None
    last = matches[-1]
    return last if _in_tail(clean, last.end(), max_trailing) else None


def parse_choice(
    text: str,
    pattern: re.Pattern[str],
    labels: tuple[str, ...],
    max_trailing: int = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
) -> Parsed | None:
    """Read a one-of-``labels`` verdict captured by group 1 of ``pattern`` from the tail.

    >>> import re
    >>> p = re.compile(r"\\[\\[\\s*([AB])\\s*\\]\\]")
    >>> parse_choice("A is right. Final verdict: [[A]]", p, ("A", "B")).winner
    0
    >>> parse_choice("Final verdict: [[C]]", p, ("A", "B")) is None
    True
    """
    match = _last_tail_match(pattern, text, max_trailing, tail_only)
    if match is None:
        return None
    label = match.group(1).strip().upper()
    upper = tuple(lbl.upper() for lbl in labels)
    if label not in upper:
        return None
    return Parsed(winner=upper.index(label), choice_start=match.start(1))


def _to_score(token: str, low: float, high: float) -> float | None:
    try:
        value = float(token.strip())
    except ValueError:
        return None
    if math.isnan(value) or not low <= value <= high:
        return None
    return value


def parse_score_list(
    text: str,
    pattern: re.Pattern[str],
    n: int,
    low: float = 1.0,
    high: float = 10.0,
    max_trailing: int = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
) -> Parsed | None:
    """Read ``n`` comma-separated scores in ``[low, high]`` (group 1 of ``pattern``).

    DeepSeek-GRM writes ``Final Scores: [[s1, s2, ...]]``; a list of the wrong length or
    with an out-of-range score is no verdict.

    >>> import re
    >>> p = re.compile(r"Final Scores:\\s*\\[\\[([^\\[\\]]*)\\]\\]")
    >>> parse_score_list("... Final Scores: [[7, 3]]", p, 2).scores
    (7.0, 3.0)
    """
    match = _last_tail_match(pattern, text, max_trailing, tail_only)
    if match is None:
        return None
    parts = [p for p in re.split(r"[,;\s]+", match.group(1).strip()) if p]
    if len(parts) != n:
        return None
    scores = [_to_score(p, low, high) for p in parts]
    if any(s is None for s in scores):
        return None
    return Parsed(scores=tuple(s for s in scores if s is not None))


def parse_repeated_scores(
    text: str,
    pattern: re.Pattern[str],
    n: int,
    low: float = 1.0,
    high: float = 10.0,
    max_trailing: int = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
) -> Parsed | None:
    """Read the last ``n`` matches of a one-score pattern (JudgeLRM's ``<answer>s</answer>`` x n).

    >>> import re
    >>> p = re.compile(r"<answer>\\s*([0-9.]+)\\s*</answer>")
    >>> parse_repeated_scores("<answer>8</answer><answer>4</answer>", p, 2).scores
    (8.0, 4.0)
    """
    clean = strip_quotes(text) if tail_only else text
    matches = list(pattern.finditer(clean))
    if len(matches) < n or (tail_only and not _in_tail(clean, matches[-1].end(), max_trailing)):
        return None
    picked = matches[-n:] if tail_only else matches[:n]
    scores = [_to_score(m.group(1), low, high) for m in picked]
    if any(s is None for s in scores):
        return None
    return Parsed(scores=tuple(s for s in scores if s is not None))


def after_last(text: str, marker: str) -> tuple[str, int] | None:
    """The text after the last ``marker`` and its offset, or ``None`` if it is absent."""
    idx = text.rfind(marker)
    if idx < 0:
        return None
    start = idx + len(marker)
    return text[start:], start
