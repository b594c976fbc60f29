"""Field checks for template files: each error names the file, the field and the fix.

:func:`compile_messages` also checks the Jinja2 of each message before any request comes:
its syntax, and every variable it names (a misspelt ``{{ questoin }}`` is an error at load,
even inside a branch a trial render would not take). The messages compile in
:class:`grm.templates.sandbox.BudgetedEnvironment`, which bounds a render's work and size.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from grm.templates.base import Decoding
from grm.templates.sandbox import BudgetedEnvironment

#: What a template file's messages may name (docs/templates.md lists them).
VARIABLES = ("question", "responses", "reference", "labels", "n", "guard")


class TemplateFileError(ValueError):
    """A template file is malformed; the message names the file, the field and the fix."""


def fail(path: Path, field: str, problem: str, fix: str) -> TemplateFileError:
    return TemplateFileError(f"template file {path}: {field} {problem}; {fix}")


def check_mapping(path: Path, field: str, value: object, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(
            path,
            field,
            f"must be a mapping, got {type(value).__name__}",
            f"write it as '{field}:' with keys {', '.join(sorted(allowed))}",
        )
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise fail(
            path,
            f"{field}.{unknown[0]}",
            "is not a known field",
            f"use only {', '.join(sorted(allowed))}",
        )
    return value


def check_pattern(path: Path, field: str, value: object) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise fail(
            path,
            field,
            "is missing or not a string",
            "give a regular expression whose group 1 captures the verdict",
        )
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise fail(
            path,
            field,
            f"is not a valid regular expression ({exc})",
            "fix the expression (in YAML, single-quote it so backslashes stay)",
        ) from None
    if compiled.groups < 1:
        raise fail(
            path,
            field,
            "has no capture group",
            "wrap the verdict part in parentheses: group 1 is what is read",
        )
    return compiled


def check_rule(path: Path, field: str, value: object) -> str:
    if value not in ("first", "last", "unique"):
        raise fail(
            path,
            field,
            f"must be first, last or unique, got {value!r}",
            "pick which match counts when several appear",
        )
    return str(value)


def check_trailing(path: Path, field: str, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise fail(
            path,
            field,
            f"must be a non-negative integer or null, got {value!r}",
            "give how many characters may follow the verdict (null: any)",
        )
    return value


def check_decoding(path: Path, value: object) -> Decoding:
    if value is None:
        return Decoding()
    spec = check_mapping(path, "decoding", value, {"temperature", "top_p", "max_tokens"})
    t, p, m = spec.get("temperature"), spec.get("top_p"), spec.get("max_tokens")
    if t is not None and (not isinstance(t, (int, float)) or isinstance(t, bool) or t < 0):
        raise fail(
            path,
            "decoding.temperature",
            f"must be a number >= 0, got {t!r}",
            "use 0 for greedy decoding",
        )
    if p is not None and (not isinstance(p, (int, float)) or not 0 < p <= 1):
        raise fail(path, "decoding.top_p", f"must be in (0, 1], got {p!r}", "use 1.0 for none")
    if m is not None and (not isinstance(m, int) or isinstance(m, bool) or m < 1):
        raise fail(
            path,
            "decoding.max_tokens",
            f"must be an integer >= 1, got {m!r}",
            "give the most new tokens per chain",
        )
    return Decoding(None if t is None else float(t), None if p is None else float(p), m)


def compile_messages(path: Path, value: object) -> tuple[tuple[str, Any], ...]:
    """The ``messages`` field as (role, compiled template) pairs."""
    if not isinstance(value, list) or not value:
        raise fail(
            path,
            "messages",
            "must be a non-empty list",
            "list the chat messages, each with 'role' and 'content'",
        )
    env = BudgetedEnvironment()
    known = {*VARIABLES, *env.globals}
    out = []
    for i, msg in enumerate(value):
        field = f"messages[{i}]"
        spec = check_mapping(path, field, msg, {"role", "content"})
        role, content = spec.get("role"), spec.get("content")
        if role not in ("system", "user", "assistant"):
            raise fail(
                path,
                f"{field}.role",
                f"must be system, user or assistant, got {role!r}",
                "set the role of this message",
            )
        if not isinstance(content, str) or not content.strip():
            raise fail(
                path,
                f"{field}.content",
                "is missing or empty",
                "write the message text (Jinja2: {{ question }}, {{ responses[0] }}, ...)",
            )
        try:
            tree = env.parse(content)
        except TemplateSyntaxError as exc:
            raise fail(
                path,
                f"{field}.content",
                f"is not valid Jinja2 (line {exc.lineno}: {exc.message})",
                "fix the template syntax",
            ) from None
        unknown = sorted(meta.find_undeclared_variables(tree) - known)
        if unknown:
            close = difflib.get_close_matches(unknown[0], VARIABLES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise fail(
                path,
                f"{field}.content",
                f"uses the undefined variable {unknown[0]!r}",
                f"{hint}the variables are {', '.join(VARIABLES)}",
            )
        out.append((str(role), env.compile_budgeted(tree)))
    if out[-1][0] == "assistant":
        raise fail(
            path,
            "messages",
            "ends with an assistant message",
            "put the assistant-turn opening in 'prefill' instead",
        )
    return tuple(out)
