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

A file is checked when it is loaded, not when judging starts: its fields (see
:mod:`grm.templates.file_fields`), every variable its Jinja2 names, and a trial render of
every message on small synthetic requests (each response count the file allows from its
minimum, with and without a reference), so a failing expression, a blocked attribute or
unbounded work is an error naming the file and the field. Every render, trial or real, runs
under the work and size budget of :mod:`grm.templates.sandbox`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

from grm.parsing import (
    DEFAULT_MAX_TRAILING,
    Parsed,
    between,
    parse_choice,
    parse_repeated_scores,
    parse_score_list,
)
from grm.templates.base import Template, slot_label
from grm.templates.file_fields import (
    VARIABLES,
    TemplateFileError,
    check_decoding,
    check_mapping,
    check_pattern,
    check_rule,
    check_trailing,
    compile_messages,
    fail,
)
from grm.templates.sandbox import RenderBudgetError, render
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


def is_template_file(name: object) -> bool:
    """Whether ``name`` looks like a template file path (a .yaml/.yml name)."""
    return isinstance(name, (str, Path)) and str(name).lower().endswith(SUFFIXES)


#: What a template's own expressions raise while rendering (``{{ 1 / 0 }}``, ``{{ n + "x" }}``,
#: a macro calling itself for ever), as opposed to a fault in grm.
_TEMPLATE_FAULTS = (
    TemplateError,
    RenderBudgetError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    RecursionError,
)


class FileTemplate(Template):
    """A template described by a file; see :func:`load_template_file`."""

    message_specs: ClassVar[tuple[tuple[str, Any], ...]] = ()
    pattern: ClassVar[re.Pattern[str]]
    after: ClassVar[str | None] = None
    mode: ClassVar[str] = "list"
    integer: ClassVar[bool] = True
    #: The file the template was loaded from (render errors name it).
    path: ClassVar[Path] = Path("<template file>")

    def messages(self, request: JudgeRequest, order: Sequence[int]) -> list[Message]:
        return self.render_messages(request, order, "")

    def render_messages(
        self, request: JudgeRequest, order: Sequence[int], when: str
    ) -> list[Message]:
        """The messages; an error in a field names the file, the field and ``when``."""
        self.check(request)
        values = {
            "question": self.data(request.prompt_str),
            "responses": [self.data(request.responses[i]) for i in order],
            "reference": None if request.reference is None else self.data(request.reference),
            "labels": [slot_label(i) for i in range(len(order))],
            "n": len(order),
            "guard": self.guard if self.hardened else "",
        }
        texts = (request.prompt_str, *request.responses, request.reference or "")
        size = sum(len(t) for t in texts)
        out: list[Message] = []
        for i, (role, template) in enumerate(self.message_specs):
            try:
                content = render(template, values, size)
            except _TEMPLATE_FAULTS as exc:  # the file's own error: name it and the field
                raise render_error(self.path, f"messages[{i}].content", exc, when) from None
            out.append({"role": role, "content": content})
        return out

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


def render_error(path: Path, field: str, exc: Exception, when: str = "") -> TemplateFileError:
    """A render failure of ``field`` as an error naming the file, the field and the fix."""
    at = f" {when}" if when else ""
    if isinstance(exc, RenderBudgetError):
        return fail(
            path,
            field,
            f"does too much work{at}: it {exc}",
            "bound its loops (loop over responses or labels, not a long range) and write "
            "each input a few times at most",
        )
    if isinstance(exc, SecurityError):
        return fail(
            path,
            field,
            f"is blocked by the sandbox{at} ({exc})",
            "read the variables and call plain filters and str methods only; private "
            "attributes and changes to lists or dicts are not allowed",
        )
    if isinstance(exc, UndefinedError):
        return fail(
            path,
            field,
            f"reads an undefined value{at} ({exc.message})",
            f"the variables are {', '.join(VARIABLES)}; guard optional ones with "
            "{% if reference %}",
        )
    return fail(
        path,
        field,
        f"fails to render{at} ({type(exc).__name__}: {exc})",
        "fix the expression so it works for every request the template takes",
    )


def trial_requests(template: Template) -> list[tuple[str, JudgeRequest]]:
    """Small synthetic requests a template file must render: the fewest responses it takes
    and one more where it takes more (a loop over responses runs twice), each with and
    without a reference."""
    counts = [template.min_responses]
    if template.max_responses is None or template.max_responses > template.min_responses:
        counts.append(template.min_responses + 1)
    out = []
    for n in counts:
        responses = tuple(f"The answer is {i + 4}." for i in range(n))
        for reference in (None, "The answer is 4."):
            request = JudgeRequest("What is 2 + 2?", responses, reference)
            plural = "s" if n > 1 else ""
            has = "with" if reference else "without"
            out.append((f"of a request with {n} response{plural} {has} a reference", request))
    return out


def trial_render(template: FileTemplate) -> None:
    """Render every message of ``template`` on :func:`trial_requests` (errors name the
    file, the field and the request)."""
    for when, request in trial_requests(template):
        order = tuple(range(len(request.responses)))
        template.render_messages(request, order, f"in a trial render {when}")


def resolve_template_path(name: str, folder: str | Path) -> str:
    """``name`` with a relative template-file path made relative to ``folder`` (the folder
    of the card that names it), so the current directory never picks the file."""
    if is_template_file(name) and not Path(name).expanduser().is_absolute():
        return str(Path(folder) / name)
    return name


def load_template_file(
    path: str | Path, sanitize: bool = True, hardened: bool = True, tail_only: bool = True
) -> Template:
    """Load and validate a template file; the options are the mitigations' switches."""
    path = Path(path)
    if not path.is_file():
        raise TemplateFileError(f"template file {path} does not exist; check the path.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateFileError(
            f"template file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); save it as UTF-8."
        ) from None
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TemplateFileError(f"template file {path} is not valid YAML: {exc}") from None
    spec = check_mapping(path, "(top level)", spec, _TOP)
    kind = spec.get("kind")
    if kind not in ("pairwise", "pointwise"):
        raise fail(
            path,
            "kind",
            f"must be pairwise or pointwise, got {kind!r}",
            "pairwise picks one of two responses, pointwise scores each",
        )
    attrs: dict[str, Any] = {
        "name": str(spec.get("name") or path.stem),
        "kind": kind,
        "source": str(spec.get("source") or path),
        "message_specs": compile_messages(path, spec.get("messages")),
        "decoding": check_decoding(path, spec.get("decoding")),
    }
    prefill = spec.get("prefill", "")
    if not isinstance(prefill, str):
        raise fail(path, "prefill", "must be a string", "give the text that opens the answer")
    attrs["prefill"] = prefill
    delims = spec.get("delimiters", [])
    if not isinstance(delims, list) or not all(isinstance(d, str) and d for d in delims):
        raise fail(
            path,
            "delimiters",
            "must be a list of non-empty strings",
            "list the layout's section markers, or leave the field out",
        )
    attrs["delimiters"] = tuple(delims)
    if kind == "pairwise":
        if "scores" in spec:
            raise fail(
                path,
                "scores",
                "is for pointwise templates",
                "use 'verdict' with 'choices' for a pairwise template",
            )
        v = check_mapping(path, "verdict", spec.get("verdict"), _VERDICT)
        choices = v.get("choices", ["A", "B"])
        if (
            not isinstance(choices, list)
            or len(choices) != 2
            or not all(isinstance(c, str) and c for c in choices)
        ):
            raise fail(
                path,
                "verdict.choices",
                f"must be two non-empty strings, got {choices!r}",
                "give what group 1 holds for the first and the second response",
            )
        attrs.update(
            choices=tuple(choices), pattern=check_pattern(path, "verdict.pattern", v.get("pattern"))
        )
        section, fields = v, "verdict"
    else:
        if "verdict" in spec:
            raise fail(
                path,
                "verdict",
                "is for pairwise templates",
                "use 'scores' with low/high for a pointwise template",
            )
        s = check_mapping(path, "scores", spec.get("scores"), _SCORES)
        low, high = s.get("low", 1), s.get("high", 10)
        if (
            not all(isinstance(x, int) and not isinstance(x, bool) for x in (low, high))
            or low > high
        ):
            raise fail(
                path,
                "scores.low/high",
                f"must be integers with low <= high, got {low!r}, {high!r}",
                "give the score range, e.g. low: 1 and high: 10",
            )
        mode = s.get("mode", "list")
        if mode not in ("list", "repeated"):
            raise fail(
                path,
                "scores.mode",
                f"must be list or repeated, got {mode!r}",
                "list: group 1 holds all scores; repeated: one match per response",
            )
        attrs.update(
            low=float(low),
            high=float(high),
            mode=mode,
            pattern=check_pattern(path, "scores.pattern", s.get("pattern")),
            score_separator=str(s.get("separator", ", ")),
            score_close=str(s.get("close", "")),
            integer=bool(s.get("integer", True)),
        )
        section, fields = s, "scores"
    prefix = section.get("prefix")
    if not isinstance(prefix, str) or not prefix:
        raise fail(
            path,
            f"{fields}.prefix",
            "is missing",
            "give the text after which a forced verdict is read (e.g. '[[')",
        )
    attrs["verdict_prefix"] = prefix
    attrs["rule"] = check_rule(path, f"{fields}.rule", section.get("rule", "last"))
    attrs["max_trailing"] = check_trailing(
        path, f"{fields}.max_trailing", section.get("max_trailing", DEFAULT_MAX_TRAILING)
    )
    after = section.get("after")
    if after is not None and (not isinstance(after, str) or not after):
        raise fail(
            path,
            f"{fields}.after",
            "must be a non-empty string",
            "give the marker the verdict follows (e.g. '</think>'), or leave it out",
        )
    attrs["after"] = after
    counts = spec.get("responses", {})
    counts = check_mapping(path, "responses", counts, {"min", "max"})
    lo = counts.get("min", 2 if kind == "pairwise" else 1)
    hi = counts.get("max", 2 if kind == "pairwise" else None)
    if kind == "pairwise" and (lo, hi) != (2, 2):
        raise fail(
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
        raise fail(
            path,
            "responses",
            f"needs integers 1 <= min <= max, got {lo!r}, {hi!r}",
            "set min and max (max: null for any number)",
        )
    attrs.update(min_responses=lo, max_responses=hi)
    attrs["path"] = path
    cls = type(f"FileTemplate_{path.stem}", (FileTemplate,), attrs)
    template = cls(sanitize=sanitize, hardened=hardened, tail_only=tail_only)
    trial_render(template)
    return template
