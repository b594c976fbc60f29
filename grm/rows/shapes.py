"""Every row shape grm reads, in one registry, and the one function that reads a row.

A row becomes a :class:`RowItem`: the prompt, the responses in the order the row stores
them, the index of the better one when the row says and the caller asks for it, a group
(subset / source / task) and an optional reference. What differs between the faces is a
parameter, not a second reader: ``labelled`` (evaluation and training need the preference,
labelling jobs and ``RewardModel`` ignore it) and :func:`place` (RewardBench shows one random
A/B order per item, so evaluation and training put the chosen response in slot A or B by a
seeded coin; ``grm label`` keeps it in slot A).

Shapes, in the order ``auto`` looks for them (:data:`SHAPES`):

- ``rows``: grm's own rows, ``prompt`` / ``responses`` / ``preferred`` (the task generators);
- ``pointwise``: ``prompt`` / ``responses`` (any number; also ``candidates`` /
  ``completions``) with ``scores`` (the best is preferred) or ``preferred``;
- ``judgebench``: ``question`` (or ``prompt``) / ``response_A`` / ``response_B`` / ``label``
  ("A>B" or "B>A");
- ``hh-rlhf``: Anthropic HH-RLHF, ``chosen`` / ``rejected`` whole transcripts and no prompt
  column (see :mod:`grm.rows.transcripts`);
- ``rewardbench``: ``prompt`` / ``chosen`` / ``rejected`` / ``subset``;
- ``pairs``: ``prompt`` / ``chosen`` / ``rejected`` (TRL's preference shape), strings or
  message lists; without ``prompt`` the conversations carry it (everything before the last
  assistant message, which must be the same in both);
- ``ab``: ``prompt`` / ``a`` / ``b`` (``RewardModel.compare_batch``'s dicts).

An optional ``reference`` answer is read in every shape.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from grm.rows.transcripts import TranscriptError, hh_pair, is_transcript
from grm.types import JudgeRequest, Prompt, prompt_text, response_text

Response = str | Sequence[Any]
#: Columns that may hold a group of responses, in the order they are looked for.
GROUP_FIELDS = ("responses", "candidates", "completions")
#: Key of a record standing for an input line that is not a JSON object (see grm.rows.read).
BAD_LINE = "__grm_bad_line__"


class RowError(ValueError):
    """A row that cannot be read. ``kind`` sorts it in data reports: ``missing_field``,
    ``empty_response``, ``tie``, ``bad_label`` or ``invalid``."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class RowItem:
    """What a row asks to judge, in the order the row stores the responses."""

    shape: str
    prompt: Prompt
    responses: tuple[Response, ...]
    """Strings or message lists, as stored (chosen first in the chosen/rejected shapes)."""
    preferred: int | None = None
    """Index of the better response (``labelled=True`` only)."""
    group: str | None = None
    """The row's subset (RewardBench), source (JudgeBench) or task, when it has one."""
    reference: Any = None

    def texts(self) -> tuple[str, ...]:
        """The responses as text (a message list's contents joined)."""
        return tuple(response_text(r) for r in self.responses)

    def request(self) -> JudgeRequest:
        return JudgeRequest(self.prompt, self.texts(), self.reference)


def _get(row: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if row.get(name) is not None:
            return row[name]
    return None


def _prompt(row: Mapping[str, Any], *names: str) -> Any:
    prompt = _get(row, *names)
    if prompt is None:
        raise RowError(
            f"the row needs a '{names[0]}' (or '{names[1]}'); keys: {sorted(row)}.",
            "missing_field",
        )
    return prompt


def _pair_from(row: Mapping[str, Any], a: str, b: str) -> tuple[Any, Any]:
    for name in (a, b):
        if row.get(name) is None:
            raise RowError(
                f"the row's '{name}' is missing or null; the pair needs both sides "
                f"('{a}' and '{b}').",
                "missing_field",
            )
    return row[a], row[b]


def _last_assistant(messages: Any, field: str) -> tuple[list[Any], list[Any]]:
    if not messages or not isinstance(messages[-1], Mapping):
        raise RowError(f"the row's '{field}' is an empty or malformed message list.")
    if messages[-1].get("role") != "assistant":
        raise RowError(
            f"the row's '{field}' must end with an assistant message when there is no "
            "'prompt' column; pass a 'prompt' column and the responses alone instead."
        )
    return list(messages[:-1]), [messages[-1]]


# ---------------------------------------------------------------- one parser per shape


def _rows(row: Mapping[str, Any], labelled: bool) -> RowItem:
    item = replace(_pointwise(row, False), shape="rows")
    if not labelled:
        return item
    return replace(item, preferred=_index(row.get("preferred"), len(item.responses)))


def _pointwise(row: Mapping[str, Any], labelled: bool) -> RowItem:
    group = _get(row, *GROUP_FIELDS)
    if group is None:
        raise RowError(f"the row needs 'responses' (a list); keys: {sorted(row)}.", "missing_field")
    if not isinstance(group, (list, tuple)):
        raise RowError(
            f"the row's 'responses' is a {type(group).__name__}; it must be a list of responses."
        )
    prompt = _prompt(row, "prompt", "question")
    preferred = None
    if labelled:
        if row.get("preferred") is not None:
            preferred = _index(row["preferred"], len(group))
        elif isinstance(row.get("scores"), (list, tuple)) and len(row["scores"]) == len(group):
            try:
                scores = [float(s) for s in row["scores"]]
            except (TypeError, ValueError):
                raise RowError(
                    f"the row's 'scores' must be numbers, got {row['scores']!r}."
                ) from None
            preferred = max(range(len(scores)), key=scores.__getitem__)
        else:
            raise RowError(
                "a pointwise row needs 'scores' (one per response) or 'preferred' "
                "(the index of the best response).",
                "missing_field",
            )
    return RowItem("pointwise", prompt, tuple(group), preferred, _text(row.get("task")))


def _index(value: Any, n: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RowError(f"preferred={value!r} is not a response index.", "bad_label")
    try:
        index = int(value)
    except ValueError:
        raise RowError(f"preferred={value!r} is not a response index.", "bad_label") from None
    if not 0 <= index < n:
        raise RowError(f"preferred={index} is not a response index (0..{n - 1}).", "bad_label")
    return index


def _judgebench(row: Mapping[str, Any], labelled: bool) -> RowItem:
    pair = _pair_from(row, "response_A", "response_B")
    prompt = _prompt(row, "question", "prompt")
    preferred = None
    if labelled:
        raw = row.get("label")
        label = str(raw).replace(" ", "")
        if raw is None:
            raise RowError("the row has no 'label' ('A>B' or 'B>A').", "missing_field")
        if label in ("A=B", "tie"):
            raise RowError(
                f"label {raw!r} is a tie; a scored pair's label must be 'A>B' or 'B>A' "
                "(drop ties).",
                "tie",
            )
        if label not in ("A>B", "B>A"):
            raise RowError(
                f"label must be 'A>B' or 'B>A', got {raw!r}; drop rows without a strict "
                "preference.",
                "bad_label",
            )
        preferred = 0 if label == "A>B" else 1
    return RowItem("judgebench", prompt, pair, preferred, _text(row.get("source")))


def _hh(row: Mapping[str, Any], labelled: bool) -> RowItem:
    chosen, rejected = _pair_from(row, "chosen", "rejected")
    try:
        prompt, a, b = hh_pair(chosen, rejected)
    except TranscriptError as exc:
        raise RowError(str(exc), exc.kind) from None
    return RowItem("hh-rlhf", prompt, (a, b), 0 if labelled else None)


def _chosen_rejected(name: str) -> Callable[[Mapping[str, Any], bool], RowItem]:
    def parse(row: Mapping[str, Any], labelled: bool) -> RowItem:
        chosen, rejected = _pair_from(row, "chosen", "rejected")
        prompt = _get(row, "prompt", "question")
        if prompt is None:
            if not (isinstance(chosen, list) and isinstance(rejected, list)):
                raise RowError(
                    "the row needs a 'prompt' (or 'question'), or chosen/rejected "
                    f"conversations that end with the assistant's message; keys: {sorted(row)}.",
                    "missing_field",
                )
            prompt, chosen = _last_assistant(chosen, "chosen")
            rest, rejected = _last_assistant(rejected, "rejected")
            if rest != prompt:
                raise RowError(
                    "the 'chosen' and 'rejected' conversations differ before their last "
                    "assistant message; a pair shares the conversation and differs only in "
                    "the last reply (or pass a 'prompt' column)."
                )
        group = _text(row.get("subset"))
        return RowItem(name, prompt, (chosen, rejected), 0 if labelled else None, group)

    return parse


def _ab(row: Mapping[str, Any], labelled: bool) -> RowItem:
    pair = _pair_from(row, "a", "b")
    if labelled:
        raise RowError(
            "an a/b row says no preference; write it as prompt/chosen/rejected or "
            "prompt/responses/preferred.",
            "missing_field",
        )
    return RowItem("ab", _prompt(row, "prompt", "question"), pair)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _has_pair(row: Mapping[str, Any], a: str, b: str) -> bool:
    return a in row or b in row


@dataclass(frozen=True)
class Shape:
    """One row shape: how to tell it, what it holds, how to read it."""

    name: str
    columns: tuple[str, ...]
    """The columns a labelled row of this shape holds (a data check reports the missing)."""
    detect: Callable[[Mapping[str, Any]], bool]
    parse: Callable[[Mapping[str, Any], bool], RowItem]
    chosen_first: bool = False
    """Responses are stored chosen first: evaluation and training place them by a coin."""


#: The registry, in the order ``auto`` tries the shapes (the first match wins).
SHAPES: dict[str, Shape] = {
    s.name: s
    for s in (
        Shape(
            "rows",
            ("prompt", "responses", "preferred"),
            lambda r: "responses" in r and "preferred" in r,
            _rows,
        ),
        Shape(
            "pointwise",
            ("prompt", "responses"),
            lambda r: any(f in r for f in GROUP_FIELDS),
            _pointwise,
        ),
        Shape(
            "judgebench",
            ("question", "response_A", "response_B", "label"),
            lambda r: _has_pair(r, "response_A", "response_B"),
            _judgebench,
        ),
        Shape(
            "hh-rlhf",
            ("chosen", "rejected"),
            lambda r: (
                "prompt" not in r
                and "question" not in r
                and is_transcript(r.get("chosen"))
                and is_transcript(r.get("rejected"))
            ),
            _hh,
            chosen_first=True,
        ),
        Shape(
            "rewardbench",
            ("prompt", "chosen", "rejected"),
            lambda r: _has_pair(r, "chosen", "rejected") and "subset" in r,
            _chosen_rejected("rewardbench"),
            chosen_first=True,
        ),
        Shape(
            "pairs",
            ("chosen", "rejected"),
            lambda r: _has_pair(r, "chosen", "rejected"),
            _chosen_rejected("pairs"),
            chosen_first=True,
        ),
        Shape("ab", ("prompt", "a", "b"), lambda r: "a" in r and "b" in r, _ab),
    )
}
#: Names a user may give (``auto`` detects per row); the CLI's choices come from here.
FORMATS: tuple[str, ...] = ("auto", *SHAPES)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"data format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    return fmt


def detect_shape(row: Mapping[str, Any]) -> str:
    """The shape of one row, from its columns (:data:`SHAPES` order).

    >>> hh = "\\n\\nHuman: Hi\\n\\nAssistant: "
    >>> detect_shape({"chosen": hh + "Hello!", "rejected": hh + "Go away."})
    'hh-rlhf'
    >>> detect_shape({"question": "q", "response_A": "a", "response_B": "b", "label": "A>B"})
    'judgebench'
    """
    for shape in SHAPES.values():
        if shape.detect(row):
            return shape.name
    raise RowError(
        f"cannot tell the data format from the keys {sorted(row)}: expected prompt/chosen/"
        "rejected (RewardBench, strings or message lists), question/response_A/response_B/"
        "label (JudgeBench), HH-RLHF chosen/rejected transcripts, or prompt/a/b; grm's own "
        "shape needs 'responses' (a list) with 'preferred' or 'scores' to train on.",
        "invalid",
    )


def read_row(row: Any, fmt: str = "auto", *, labelled: bool = False) -> RowItem:
    """One row as a :class:`RowItem`; :class:`RowError` names the field and the fix.

    ``labelled``: read the preference too (an error when the row has none).

    >>> item = read_row({"prompt": "2+2?", "chosen": "4", "rejected": "5"}, labelled=True)
    >>> item.shape, item.responses, item.preferred
    ('pairs', ('4', '5'), 0)
    """
    if not isinstance(row, Mapping):
        raise RowError(f"a row must be a JSON object, got a {type(row).__name__} ({row!r:.60}).")
    if row.get(BAD_LINE) is not None:
        raise RowError(f"the line {row[BAD_LINE]}", "invalid")
    name = detect_shape(row) if check_format(fmt) == "auto" else fmt
    item = SHAPES[name].parse(row, labelled)
    _check_types(item, row)
    return item


def _check_types(item: RowItem, row: Mapping[str, Any]) -> None:
    if not isinstance(item.prompt, (str, list, tuple)):
        raise RowError(
            f"the row's prompt is a {type(item.prompt).__name__} ({item.prompt!r:.60}); a "
            "prompt must be text or a list of chat messages."
        )
    try:
        prompt = prompt_text(item.prompt)
    except ValueError as exc:
        raise RowError(str(exc)) from None
    if not prompt.strip():
        raise RowError("the row's prompt is empty; pass the user's question or conversation.")
    names = _slot_names(item.shape, len(item.responses))
    for i, (name, value) in enumerate(zip(names, item.responses, strict=True)):
        if not isinstance(value, (str, list, tuple)):
            raise RowError(
                f"the row's '{name}' is a {type(value).__name__} ({value!r:.60}); a response "
                "must be text or a list of chat messages (write numbers as strings)."
            )
        if not response_text(value).strip():
            raise RowError(
                f"responses[{i}] is empty or whitespace (the row's '{name}'); a judge needs "
                "text to read (drop the row).",
                "empty_response",
            )


def _slot_names(shape: str, n: int) -> list[str]:
    named = {
        "judgebench": ["response_A", "response_B"],
        "hh-rlhf": ["chosen", "rejected"],
        "rewardbench": ["chosen", "rejected"],
        "pairs": ["chosen", "rejected"],
        "ab": ["a", "b"],
    }
    return named.get(shape) or [f"responses[{i}]" for i in range(n)]


def place(item: RowItem, rng: random.Random) -> RowItem:
    """RewardBench's placement: a chosen-first pair is shown in one random order per item
    (a seeded coin), so a judge with a first-slot bias scores 50%. Other shapes keep their
    stored order, and so does an unlabelled item. One ``rng.randrange(2)`` per placed item.
    """
    if item.preferred is None or not SHAPES[item.shape].chosen_first or len(item.responses) != 2:
        return item
    slot = rng.randrange(2)
    if slot == 0:
        return item
    chosen, rejected = item.responses
    return replace(item, responses=(rejected, chosen), preferred=1)
