"""Templates from a file: a checkpoint's exact wording, supplied by the user.

The built-in templates keep each published format's structure in grm's own words. A user
who wants a checkpoint's original wording writes it into a small YAML file and passes the
path: ``RewardModel.load(model, template="my-judge.yaml")``. The file holds the messages
(Jinja2, rendered in a sandbox), the assistant-turn prefill, the verdict pattern with its
choices or score range, the match rule, and decoding defaults. Every field is validated
when the file is loaded, and an error names the field and the fix. A worked example is
``grm/templates/files/rrm-example.yaml``; docs/templates.md describes every field.

Judged text is sanitised exactly as for the built-in templates before it reaches the
Jinja2 variables, and the file's ``delimiters`` are defused inside it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from grm.parsing import (
    DEFAULT_MAX_TRAILING,
    Parsed,
    between,
    parse_choice,
    parse_repeated_scores,
    parse_score_list,
)
from grm.templates.base import Decoding, Template, slot_label
from grm.types import JudgeRequest, Message

SUFFIXES = (".yaml", ".yml")
_TOP = {
    "name",
    "kind",
    "source",
    "messages",
    "prefill",
    "verdict",
    "scores",
    "responses",
    "decoding",
    "delimiters",
}
_VERDICT = {"pattern", "choices", "prefix", "rule", "max_trailing", "after"}
_SCORES = {
    "pattern",
    "low",
    "high",
    "mode",
    "separator",
    "close",
    "prefix",
    "rule",
    "max_trailing",
    "after",
    "integer",
}


class TemplateFileError(ValueError):
    """A template file is malformed; the message names the file, the field and the fix."""


def is_template_file(name: object) -> bool:
    """Whether ``name`` looks like a template file path (a .yaml/.yml name)."""
    return isinstance(name, (str, Path)) and str(name).lower().endswith(SUFFIXES)


class FileTemplate(Template):
    """A template described by a file; see :func:`load_template_file`."""

    message_specs: ClassVar[tuple[tuple[str, Any], ...]] = ()
    pattern: ClassVar[re.Pattern[str]]
    after: ClassVar[str | None] = None
    mode: ClassVar[str] = "list"
    integer: ClassVar[bool] = True

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        self.check(request)
        values = {
            "question": self.data(request.prompt_str),
            "responses": [self.data(request.responses[i]) for i in order],
            "reference": None if request.reference is None else self.data(request.reference),
            "labels": [slot_label(i) for i in range(len(order))],
            "n": len(order),
            "guard": self.guard if self.hardened else "",
        }
        return [
            {"role": role, "content": template.render(**values)}
            for role, template in self.message_specs
        ]

    def parse(self, text: str, n_responses: int) -> Parsed | None:
        start, end = 0, None
        if self.after is not None:
            span = between(text, self.after)
            if span is None:
                return None
            start, end = span
        if self.kind == "pairwise":
            return parse_choice(
                text,
                self.pattern,
                self.choices,
                self.max_trailing,
                self.tail_only,
                self.rule,
                start,
                end,
            )
        if self.mode == "repeated":
            rule: Literal["first", "last"] = "first" if self.rule == "first" else "last"
            return parse_repeated_scores(
                text,
                self.pattern,
                n_responses,
                self.low,
                self.high,
                self.max_trailing,
                self.tail_only,
                rule,
                self.integer,
                start,
                end,
            )
        body = text if end is None else text[:end]
        return parse_score_list(
            body[start:] if start else body,
            self.pattern,
            n_responses,
            self.low,
            self.high,
            self.max_trailing,
            self.tail_only,
            self.integer,
            self.rule,
        )


def _fail(path: Path, field: str, problem: str, fix: str) -> TemplateFileError:
    return TemplateFileError(f"template file {path}: {field} {problem}; {fix}")


def _mapping(path: Path, field: str, value: object, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(
            path,
            field,
            f"must be a mapping, got {type(value).__name__}",
            f"write it as '{field}:' with keys {', '.join(sorted(allowed))}",
        )
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(
            path,
            f"{field}.{unknown[0]}",
            "is not a known field",
            f"use only {', '.join(sorted(allowed))}",
        )
    return value


def _pattern(path: Path, field: str, value: object) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise _fail(
            path,
            field,
            "is missing or not a string",
            "give a regular expression whose group 1 captures the verdict",
        )
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise _fail(
            path,
            field,
            f"is not a valid regular expression ({exc})",
            "fix the expression (in YAML, single-quote it so backslashes stay)",
        ) from None
    if compiled.groups < 1:
        raise _fail(
            path,
            field,
            "has no capture group",
            "wrap the verdict part in parentheses: group 1 is what is read",
        )
    return compiled


def _rule(path: Path, field: str, value: object) -> str:
    if value not in ("first", "last", "unique"):
        raise _fail(
            path,
            field,
            f"must be first, last or unique, got {value!r}",
            "pick which match counts when several appear",
        )
    return str(value)


def _trailing(path: Path, field: str, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _fail(
            path,
            field,
            f"must be a non-negative integer or null, got {value!r}",
            "give how many characters may follow the verdict (null: any)",
        )
    return value


def _decoding(path: Path, value: object) -> Decoding:
    if value is None:
        return Decoding()
    spec = _mapping(path, "decoding", value, {"temperature", "top_p", "max_tokens"})
    t, p, m = spec.get("temperature"), spec.get("top_p"), spec.get("max_tokens")
    if t is not None and (not isinstance(t, (int, float)) or isinstance(t, bool) or t < 0):
        raise _fail(
            path,
            "decoding.temperature",
            f"must be a number >= 0, got {t!r}",
            "use 0 for greedy decoding",
        )
    if p is not None and (not isinstance(p, (int, float)) or not 0 < p <= 1):
        raise _fail(path, "decoding.top_p", f"must be in (0, 1], got {p!r}", "use 1.0 for none")
    if m is not None and (not isinstance(m, int) or isinstance(m, bool) or m < 1):
        raise _fail(
            path,
            "decoding.max_tokens",
            f"must be an integer >= 1, got {m!r}",
            "give the most new tokens per chain",
        )
    return Decoding(None if t is None else float(t), None if p is None else float(p), m)


def _messages(path: Path, value: object) -> tuple[tuple[str, Any], ...]:
    from jinja2 import StrictUndefined, TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if not isinstance(value, list) or not value:
        raise _fail(
            path,
            "messages",
            "must be a non-empty list",
            "list the chat messages, each with 'role' and 'content'",
        )
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    out = []
    for i, msg in enumerate(value):
        field = f"messages[{i}]"
        spec = _mapping(path, field, msg, {"role", "content"})
        role, content = spec.get("role"), spec.get("content")
        if role not in ("system", "user", "assistant"):
            raise _fail(
                path,
                f"{field}.role",
                f"must be system, user or assistant, got {role!r}",
                "set the role of this message",
            )
        if not isinstance(content, str) or not content.strip():
            raise _fail(
                path,
                f"{field}.content",
                "is missing or empty",
                "write the message text (Jinja2: {{ question }}, {{ responses[0] }}, ...)",
            )
        try:
            out.append((str(role), env.from_string(content)))
        except TemplateSyntaxError as exc:
            raise _fail(
                path,
                f"{field}.content",
                f"is not valid Jinja2 (line {exc.lineno}: {exc.message})",
                "fix the template syntax",
            ) from None
    if out[-1][0] == "assistant":
        raise _fail(
            path,
            "messages",
            "ends with an assistant message",
            "put the assistant-turn opening in 'prefill' instead",
        )
    return tuple(out)


def load_template_file(
    path: str | Path, sanitize: bool = True, hardened: bool = True, tail_only: bool = True
) -> Template:
    """Load and validate a template file; the options are the mitigations' switches."""
    path = Path(path)
    if not path.is_file():
        raise TemplateFileError(f"template file {path} does not exist; check the path.")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TemplateFileError(f"template file {path} is not valid YAML: {exc}") from None
    spec = _mapping(path, "(top level)", spec, _TOP)
    kind = spec.get("kind")
    if kind not in ("pairwise", "pointwise"):
        raise _fail(
            path,
            "kind",
            f"must be pairwise or pointwise, got {kind!r}",
            "pairwise picks one of two responses, pointwise scores each",
        )
    attrs: dict[str, Any] = {
        "name": str(spec.get("name") or path.stem),
        "kind": kind,
        "source": str(spec.get("source") or path),
        "message_specs": _messages(path, spec.get("messages")),
        "decoding": _decoding(path, spec.get("decoding")),
    }
    prefill = spec.get("prefill", "")
    if not isinstance(prefill, str):
        raise _fail(path, "prefill", "must be a string", "give the text that opens the answer")
    attrs["prefill"] = prefill
    delims = spec.get("delimiters", [])
    if not isinstance(delims, list) or not all(isinstance(d, str) and d for d in delims):
        raise _fail(
            path,
            "delimiters",
            "must be a list of non-empty strings",
            "list the layout's section markers, or leave the field out",
        )
    attrs["delimiters"] = tuple(delims)
    if kind == "pairwise":
        if "scores" in spec:
            raise _fail(
                path,
                "scores",
                "is for pointwise templates",
                "use 'verdict' with 'choices' for a pairwise template",
            )
        v = _mapping(path, "verdict", spec.get("verdict"), _VERDICT)
        choices = v.get("choices", ["A", "B"])
        if (
            not isinstance(choices, list)
            or len(choices) != 2
            or not all(isinstance(c, str) and c for c in choices)
        ):
            raise _fail(
                path,
                "verdict.choices",
                f"must be two non-empty strings, got {choices!r}",
                "give what group 1 holds for the first and the second response",
            )
        attrs.update(
            choices=tuple(choices), pattern=_pattern(path, "verdict.pattern", v.get("pattern"))
        )
        section, fields = v, "verdict"
    else:
        if "verdict" in spec:
            raise _fail(
                path,
                "verdict",
                "is for pairwise templates",
                "use 'scores' with low/high for a pointwise template",
            )
        s = _mapping(path, "scores", spec.get("scores"), _SCORES)
        low, high = s.get("low", 1), s.get("high", 10)
        if (
            not all(isinstance(x, int) and not isinstance(x, bool) for x in (low, high))
            or low > high
        ):
            raise _fail(
                path,
                "scores.low/high",
                f"must be integers with low <= high, got {low!r}, {high!r}",
                "give the score range, e.g. low: 1 and high: 10",
            )
        mode = s.get("mode", "list")
        if mode not in ("list", "repeated"):
            raise _fail(
                path,
                "scores.mode",
                f"must be list or repeated, got {mode!r}",
                "list: group 1 holds all scores; repeated: one match per response",
            )
        attrs.update(
            low=float(low),
            high=float(high),
            mode=mode,
            pattern=_pattern(path, "scores.pattern", s.get("pattern")),
            score_separator=str(s.get("separator", ", ")),
            score_close=str(s.get("close", "")),
            integer=bool(s.get("integer", True)),
        )
        section, fields = s, "scores"
    prefix = section.get("prefix")
    if not isinstance(prefix, str) or not prefix:
        raise _fail(
            path,
            f"{fields}.prefix",
            "is missing",
            "give the text after which a forced verdict is read (e.g. '[[')",
        )
    attrs["verdict_prefix"] = prefix
    attrs["rule"] = _rule(path, f"{fields}.rule", section.get("rule", "last"))
    attrs["max_trailing"] = _trailing(
        path, f"{fields}.max_trailing", section.get("max_trailing", DEFAULT_MAX_TRAILING)
    )
    after = section.get("after")
    if after is not None and (not isinstance(after, str) or not after):
        raise _fail(
            path,
            f"{fields}.after",
            "must be a non-empty string",
            "give the marker the verdict follows (e.g. '</think>'), or leave it out",
        )
    attrs["after"] = after
    counts = spec.get("responses", {})
    counts = _mapping(path, "responses", counts, {"min", "max"})
    lo = counts.get("min", 2 if kind == "pairwise" else 1)
    hi = counts.get("max", 2 if kind == "pairwise" else None)
    if kind == "pairwise" and (lo, hi) != (2, 2):
        raise _fail(
            path,
            "responses",
            "must be min 2 and max 2 for a pairwise template",
            "leave 'responses' out",
        )
    if (
        not isinstance(lo, int)
        or lo < 1
        or (hi is not None and (not isinstance(hi, int) or hi < lo))
    ):
        raise _fail(
            path,
            "responses",
            f"needs integers 1 <= min <= max, got {lo!r}, {hi!r}",
            "set min and max (max: null for any number)",
        )
    attrs.update(min_responses=lo, max_responses=hi)
    cls = type(f"FileTemplate_{path.stem}", (FileTemplate,), attrs)
    return cls(sanitize=sanitize, hardened=hardened, tail_only=tail_only)
