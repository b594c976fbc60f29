"""Pure parsers for judge outputs: they read the judge's own verdict, never one it quotes.

Every parser returns ``None`` when there is no verdict; none raises on malformed text, and
every one runs in linear time (see :mod:`grm.quoting`). A verdict-looking string inside a
quotation (a ``<response_X>`` block, a parenthesis, code, an HTML comment, a blockquote) is
skipped. Which match wins (first, last, or a conflict that abstains) and how far from the
end a verdict may sit are per template, from the original code of each published judge.
Scores accept ASCII digits only (Python's ``int`` also takes Arabic-Indic or fullwidth
digits, which a response could plant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from grm.quoting import (
    LINE_WINDOW,
    MAX_CANDIDATES,
    Text,
    last_unquoted,
    trailing_chars,
    unquoted_matches,
)

#: Characters of text (after stripping closing tags and punctuation) allowed after a verdict.
DEFAULT_MAX_TRAILING = 80
#: Characters of explanation allowed after a verdict *line* (grm's default template). Judges
#: often add a sentence or two after ``Final verdict: [[A]]`` ("Response A computes 42; B
#: drops the carry."): 60-300 characters for one to three sentences, so 80 threw a capable
#: judge's own verdict away (issue 26). 400 keeps room for three sentences and stays short
#: next to a chain (the default budget is 512 tokens, about 2,000 characters), so a verdict
#: is still the chain's conclusion, not a mention in mid-reasoning. Characters, not
#: sentences: a bulleted explanation has none, and copied text is bounded either way.
EXPLANATION_CHARS = 400
#: Which match of a verdict pattern counts: the last, the first, or the last provided no
#: other match disagrees with it (RM-R1's rule: a text with both verdicts is an error).
Rule = Literal["last", "first", "unique"]

_ASCII_INT = re.compile(r"[0-9]+")
_ASCII_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True)
class Parsed:
    """A verdict read from a chain, in the order the responses were shown (slots).

    ``winner`` is a slot index, ``scores`` per-slot scores, ``choice_start`` the character
    offset of the verdict token (so its probability can be read later).
    """

    winner: int | None = None
    scores: tuple[float, ...] | None = None
    choice_start: int | None = None


def find_verdict(
    pattern: re.Pattern[str],
    text: str,
    rule: Rule = "last",
    max_trailing: int | None = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
    start: int = 0,
    end: int | None = None,
) -> re.Match[str] | None:
    """The match of ``pattern`` that is the judge's verdict under ``rule``, or ``None``.

    ``tail_only=False`` is the naive rule (the first match anywhere, quoted or not), kept
    so the attack suite can measure what the safe rule buys. ``max_trailing`` bounds the
    real text allowed after the verdict (None: anywhere).
    """
    if not tail_only:
        return pattern.search(text, start, len(text) if end is None else end)
    if rule == "first":
        found = unquoted_matches(pattern, text, start, end, limit=1)
        match = found[0] if found else None
    else:
        match = last_unquoted(pattern, text, start, end)
        if match is not None and rule == "unique" and conflicting(pattern, text, match, start):
            return None
    if match is None:
        return None
    if max_trailing is not None:
        stop = len(text) if end is None else end
        if trailing_chars(text[:stop], match.end(), max_trailing) > max_trailing:
            return None
    return match


def conflicting(pattern: re.Pattern[str], text: str, match: re.Match[str], start: int) -> bool:
    """Whether an unquoted match before ``match`` carries a different verdict (only those
    are checked for quotation, at most MAX_CANDIDATES of them)."""
    label = match.group(1).strip().upper()
    prepared, checked = Text(text), 0
    for other in pattern.finditer(text, start, match.start()):
        if other.group(1).strip().upper() == label:
            continue
        if not prepared.quoted(other.start()):
            return True
        checked += 1
        if checked >= MAX_CANDIDATES:
            return True  # a flood of quoted opposite verdicts: abstain rather than guess
    return False


def parse_choice(
    text: str,
    pattern: re.Pattern[str],
    labels: tuple[str, ...],
    max_trailing: int | None = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
    rule: Rule = "last",
    start: int = 0,
    end: int | None = None,
) -> Parsed | None:
    """Read a one-of-``labels`` verdict captured by group 1 of ``pattern``.

    >>> import re
    >>> p = re.compile(r"\\[\\[\\s*([AB])\\s*\\]\\]")
    >>> parse_choice("A is right. Final verdict: [[A]]", p, ("A", "B")).winner
    0
    >>> parse_choice("Final verdict: [[A]] (B said [[B]])", p, ("A", "B")).winner
    0
    >>> parse_choice("Final verdict: [[C]]", p, ("A", "B")) is None
    True
    """
    match = find_verdict(pattern, text, rule, max_trailing, tail_only, start, end)
    if match is None:
        return None
    label = match.group(1).strip().upper()
    upper = tuple(lbl.upper() for lbl in labels)
    if label not in upper:
        return None
    return Parsed(winner=upper.index(label), choice_start=match.start(1))


def verdict_line(text: str, match: re.Match[str], marker: re.Pattern[str]) -> bool:
    """Whether ``match`` sits on a verdict line: only ``marker`` (and markup) before it on
    its line, as in ``**Final verdict:** [[A]]``.

    >>> m = re.search(r"\\[\\[[AB]\\]\\]", "ok.\\nFinal verdict: [[A]] since B errs")
    >>> verdict_line(m.string, m, re.compile(r"final verdict:", re.I))
    True
    """
    start = match.start()
    line_start = text.rfind("\n", max(start - LINE_WINDOW, 0), start) + 1
    head = text[line_start:start].strip(" \t*_#-")
    return marker.fullmatch(head.rstrip(" \t*_")) is not None


def parse_explained_choice(
    text: str,
    pattern: re.Pattern[str],
    labels: tuple[str, ...],
    marker: re.Pattern[str],
    max_trailing: int = DEFAULT_MAX_TRAILING,
    explanation: int = EXPLANATION_CHARS,
    tail_only: bool = True,
) -> Parsed | None:
    """A one-of-``labels`` verdict that may be followed by a short explanation.

    The last unquoted match counts (as :func:`parse_choice` with ``rule="last"``). After a
    verdict line (:func:`verdict_line`) up to ``explanation`` characters may follow, after
    a verdict inside a sentence ``max_trailing``. When a different verdict stands on a
    verdict line whose explanation reaches the end (``Final verdict: [[A]]`` then ``... B
    says [[B]]``), the chain holds two verdicts a reader could take as the judge's: it
    abstains, as RM-R1's parser treats a text with both verdicts as an error. A verdict
    mentioned during the reasoning and settled later keeps the last-match rule.
    ``tail_only=False`` is the naive first-match rule, for the attack suite.

    >>> p = re.compile(r"\\[\\[\\s*([AB])\\s*\\]\\]")
    >>> m = re.compile(r"final\\s+verdict\\s*:?", re.I)
    >>> text = "Final verdict: [[A]]\\n\\nResponse A is right; B drops the carry in 17 + 25."
    >>> parse_explained_choice(text, p, ("A", "B"), m).winner
    0
    >>> parse_explained_choice(text + " B's own [[B]] is wrong.", p, ("A", "B"), m) is None
    True
    """
    if not tail_only:
        return parse_choice(text, pattern, labels, max_trailing, tail_only=False)
    match = last_unquoted(pattern, text)
    if match is None:
        return None
    allowed = explanation if verdict_line(text, match, marker) else max_trailing
    if trailing_chars(text, match.end(), allowed) > allowed:
        return None
    label = match.group(1).strip().upper()
    if _rival_verdict_line(text, pattern, marker, match, label, explanation):
        return None
    upper = tuple(lbl.upper() for lbl in labels)
    if label not in upper:
        return None
    return Parsed(winner=upper.index(label), choice_start=match.start(1))


def _rival_verdict_line(
    text: str,
    pattern: re.Pattern[str],
    marker: re.Pattern[str],
    match: re.Match[str],
    label: str,
    explanation: int,
) -> bool:
    """Whether an unquoted verdict line before ``match`` with another label is followed by
    at most ``explanation`` characters. Only the stretch :func:`trailing_chars` looks at is
    searched, and at most MAX_CANDIDATES quotation checks are made (a flood of them:
    abstain rather than guess), so the cost does not grow with the chain."""
    lo = max(match.start() - 64 * (explanation + 1), 0)
    prepared, checked = Text(text), 0
    # Nearest first: the text after a verdict only grows going back, so stop at the first
    # one followed by more than an explanation.
    for other in reversed(list(pattern.finditer(text, lo, match.start()))):
        if trailing_chars(text, other.end(), explanation) > explanation:
            break
        if other.group(1).strip().upper() == label or not verdict_line(text, other, marker):
            continue
        if not prepared.quoted(other.start()):
            return True
        checked += 1
        if checked >= MAX_CANDIDATES:
            return True
    return False


def to_score(token: str, low: float, high: float, integer: bool = False) -> float | None:
    """An ASCII-digit score in ``[low, high]``, or ``None``.

    >>> to_score(" 7 ", 1, 10), to_score("\\uff17", 1, 10), to_score("11", 1, 10)
    (7.0, None, None)
    """
    token = token.strip()
    number = _ASCII_INT if integer else _ASCII_NUMBER
    if not number.fullmatch(token):
        return None
    value = float(token)
    return value if low <= value <= high else None


def parse_score_list(
    text: str,
    pattern: re.Pattern[str],
    n: int,
    low: float = 1.0,
    high: float = 10.0,
    max_trailing: int | None = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
    integer: bool = False,
    rule: Rule = "last",
) -> Parsed | None:
    """Read ``n`` comma-separated scores in ``[low, high]`` (group 1 of ``pattern``).

    A list of the wrong length or with an out-of-range score is no verdict.

    >>> import re
    >>> p = re.compile(r"Final Scores:\\s*\\[\\[([^\\[\\]]*)\\]\\]")
    >>> parse_score_list("... Final Scores: [[7, 3]]", p, 2).scores
    (7.0, 3.0)
    """
    match = find_verdict(pattern, text, rule, max_trailing, tail_only)
    if match is None:
        return None
    parts = [p for p in re.split(r"[,;\s]+", match.group(1).strip()) if p]
    if len(parts) != n:
        return None
    scores = [to_score(p, low, high, integer) for p in parts]
    if any(s is None for s in scores):
        return None
    return Parsed(scores=tuple(s for s in scores if s is not None))


def parse_repeated_scores(
    text: str,
    pattern: re.Pattern[str],
    n: int,
    low: float = 1.0,
    high: float = 10.0,
    max_trailing: int | None = DEFAULT_MAX_TRAILING,
    tail_only: bool = True,
    rule: Literal["first", "last"] = "last",
    integer: bool = False,
    start: int = 0,
    end: int | None = None,
) -> Parsed | None:
    """Read ``n`` matches of a one-score pattern (JudgeLRM's ``<answer>s</answer>`` x n):
    the first ``n`` unquoted ones (``rule="first"``, JudgeLRM's own rule) or the last ``n``.

    >>> import re
    >>> p = re.compile(r"<answer>\\s*([0-9.]+)\\s*</answer>")
    >>> parse_repeated_scores("<answer>8</answer><answer>4</answer>", p, 2).scores
    (8.0, 4.0)
    """
    stop = len(text) if end is None else end
    if not tail_only:
        picked = list(pattern.finditer(text, start, stop))[:n]
    elif rule == "first":
        picked = unquoted_matches(pattern, text, start, stop, limit=n)
    else:
        picked, cut = [], stop
        for _ in range(n):
            m = last_unquoted(pattern, text, start, cut)
            if m is None:
                break
            picked.insert(0, m)
            cut = m.start()
    if len(picked) < n:
        return None
    last_end = picked[-1].end()
    if (
        tail_only
        and max_trailing is not None
        and (trailing_chars(text[:stop], last_end, max_trailing) > max_trailing)
    ):
        return None
    scores = [to_score(m.group(1), low, high, integer) for m in picked]
    if any(s is None for s in scores):
        return None
    return Parsed(scores=tuple(s for s in scores if s is not None))


def between(text: str, marker: str) -> tuple[int, int] | None:
    """The span between the first ``marker`` and the next one (or the end), or None.

    ``text.split(marker)[1]`` without the copy: the rule RRM's and JudgeLRM's scripts use
    (and a template file's ``after`` field).

    >>> between("a</think>b</think>c", "</think>")
    (9, 10)
    """
    first = text.find(marker)
    if first < 0:
        return None
    start = first + len(marker)
    second = text.find(marker, start)
    return start, len(text) if second < 0 else second
