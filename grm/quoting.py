"""Where a judge quotes: verdict-looking text inside a quotation is never the judge's verdict.

A judge that discusses a response often copies what the response says, including a verdict
the response planted ("(B even writes Final verdict: [[B]])"). A verdict found inside such a
quotation is skipped, wherever it sits:

- a closed ``<response_X>`` / ``<reference>`` quoting block (any letter case);
- a parenthesis on the same line (``... (it claims [[B]]) ...``);
- a code fence (an unclosed fence runs to the end of the text), or inline code on one line;
- an HTML comment (an unclosed one runs to the end);
- a Markdown blockquote line (``> ...``).

Every check looks at one candidate match with C-speed string scans (``count``, ``rfind``)
within a bounded window around it, and the finders look at a bounded number of candidates,
so parsing stays linear in the length of the chain whatever it holds (an adversarial chain
of a million parentheses included); no regex here can backtrack.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

#: Most candidate matches a finder examines before it gives up (all of them quoted).
MAX_CANDIDATES = 64
#: Characters either side of a candidate that the same-line checks look at.
LINE_WINDOW = 2000
#: Characters either side of a candidate that the fence, comment and quoting-block checks
#: look at: a quotation opened further back than this is not seen (the check then errs
#: towards reading the verdict as quoted or not quoted, never towards another verdict).
QUOTE_WINDOW = 65536
_FIRST_WINDOW = 4096
_BLOCKQUOTE = re.compile(r"[ \t]*>")


class Text:
    """A chain prepared once for quotation checks (a lower-cased copy for tag lookups)."""

    __slots__ = ("text", "_lower")

    def __init__(self, text: str) -> None:
        self.text = text
        self._lower: str | None = None

    @property
    def lower(self) -> str:
        if self._lower is None:
            self._lower = self.text.lower()
        return self._lower

    def quoted(self, pos: int) -> bool:
        """Whether position ``pos`` lies inside a quotation (see the module docstring).

        Line checks look at most :data:`LINE_WINDOW` characters either side of ``pos``, so
        one check costs O(window) plus C-speed counts, even on a megabyte-long line.
        """
        t = self.text
        lo = max(pos - LINE_WINDOW, 0)
        line_start = t.rfind("\n", lo, pos) + 1 or lo
        hi = min(pos + LINE_WINDOW, len(t))
        line_end = t.find("\n", pos, hi)
        if line_end < 0:
            line_end = hi
        # Markdown blockquote: the line starts (after blanks) with ">".
        if _BLOCKQUOTE.match(t, line_start, pos):
            return True
        # A parenthesis open before pos and closed after it, on the same line.
        if t.count("(", line_start, pos) > t.count(")", line_start, pos) and t.count(
            ")", pos, line_end
        ) > t.count("(", pos, line_end):
            return True
        # Code: inside a fence (odd number of fences before), or inline code on the line.
        far = max(pos - QUOTE_WINDOW, 0)
        if t.count("```", far, pos) % 2 == 1:
            return True
        if (t.count("`", line_start, pos) - 3 * t.count("```", line_start, pos)) % 2 == 1:
            return True
        # HTML comment: the last opener before pos is not closed before pos.
        if t.rfind("<!--", far, pos) > t.rfind("-->", far, pos):
            return True
        # A quoting block the judge opened before pos and closes after it (any letter case).
        low = self.lower
        near = min(pos + QUOTE_WINDOW, len(t))
        for opener, closer in (("<response_", "</response_"), ("<reference", "</reference")):
            if low.rfind(opener, far, pos) > low.rfind(closer, far, pos) and (
                low.find(closer, pos, near) >= 0
            ):
                return True
        return False


def _windows(n: int) -> Iterator[int]:
    """Start offsets of growing windows that end at the text's end: 4 KiB, 32 KiB, ..."""
    size = _FIRST_WINDOW
    while size < n:
        yield n - size
        size *= 8
    yield 0


def last_unquoted(
    pattern: re.Pattern[str], text: str, start: int = 0, end: int | None = None
) -> re.Match[str] | None:
    """The last match of ``pattern`` in ``text[start:end]`` that is not inside a quotation.

    Windows that end at ``end`` and grow eightfold keep the work linear when the verdict
    sits at the end (the usual case); at most :data:`MAX_CANDIDATES` matches are checked.
    """
    end = len(text) if end is None else end
    prepared = Text(text)
    checked = 0
    seen_from = end
    for offset in _windows(end - start):
        lo = start + offset
        matches = [m for m in pattern.finditer(text, lo, end) if m.start() < seen_from]
        for m in reversed(matches):
            if not prepared.quoted(m.start()):
                return m
            checked += 1
            if checked >= MAX_CANDIDATES:
                return None
        seen_from = lo
    return None


def unquoted_matches(
    pattern: re.Pattern[str], text: str, start: int = 0, end: int | None = None, limit: int = 2
) -> list[re.Match[str]]:
    """The first ``limit`` matches in ``text[start:end]`` that are not inside a quotation."""
    prepared = Text(text)
    out: list[re.Match[str]] = []
    matches = pattern.finditer(text, start, len(text) if end is None else end)
    for checked, m in enumerate(matches, 1):
        if not prepared.quoted(m.start()):
            out.append(m)
            if len(out) >= limit:
                break
        if checked >= MAX_CANDIDATES + limit:
            break
    return out


_NOISE = re.compile(r"(?:</?[a-z_]+>|[\s.!*`'\"\])}]+)", re.I)


def trailing_chars(text: str, end: int, limit: int) -> int:
    """Characters of real text after ``end`` (closing tags, blanks and punctuation do not
    count), computed only as far as needed to compare with ``limit``."""
    chunk = text[end : end + 64 * (limit + 1)]
    rest = len(_NOISE.sub("", chunk))
    if rest > limit or end + len(chunk) >= len(text):
        return rest
    return len(_NOISE.sub("", text[end:]))
