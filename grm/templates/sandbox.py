"""A Jinja2 sandbox that bounds work as well as code: template files render under a budget.

jinja2's ``ImmutableSandboxedEnvironment`` blocks unsafe attributes and calls, not work: a
template file with ``range(99999)`` nested in ``range(99999)`` loaded, then its first render
ran until memory was gone (issue 26: 4.6 GB after 30 s). :class:`BudgetedEnvironment` keeps
that sandbox and charges every render against a :class:`Budget`:

- **steps**: each loop iteration, call, filter, intercepted operator and written piece costs
  one step, and ``range(n)`` costs ``n`` when it is made;
- **characters**: every piece written counts, literal text included, inside macros and
  ``{% set %}`` blocks too, so the text built can never outgrow the budget;
- **value size**: the result of every call, filter, concatenation (``~``) and ``+``/``*``/
  ``%``/``**`` is checked, and the operations that multiply size (``text * n``, ``x ** n``,
  ``replace`` with an empty pattern, padding and ``indent`` widths, format widths,
  ``expandtabs``) are refused *before* they run when their result would be too big;
- **time**: a wall-clock deadline checked at every step, the backstop for work no step sees
  (a C-level ``join`` over a long range inside a loop).

Every hook is jinja2's own (see ``jinja2/sandbox.py``): ``intercepted_binops`` with
``call_binop``, the ``call`` hook every sandboxed call goes through, the filter table, and
the parsed template: ``Environment.from_string`` compiles a parsed tree, so for-loop
iterables, written pieces and concatenations are wrapped in budget filters between parsing
and compiling (:meth:`BudgetedEnvironment.compile_budgeted`). The budget filters take the
context (``pass_context``), so jinja2's optimiser never folds them away at compile time.

The budget scales with the request: :data:`BASE_STEPS` steps plus one per character of the
request's text, :data:`BASE_CHARS` characters plus :data:`CHARS_PER_INPUT` per input
character, :data:`SECONDS` of wall time. A template that writes its inputs a few times and
loops over the responses stays far inside it; a request can never make it allocate
gigabytes.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import Environment, StrictUndefined, nodes, pass_context
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

#: Steps every render may take, before the allowance for the request's own text.
BASE_STEPS = 100_000
#: Characters every render may write (and the largest value it may build), before the
#: allowance for the request's own text.
BASE_CHARS = 1_000_000
#: Characters allowed per character of the request's text: each input written a few times
#: over (a template that quotes the responses in two places uses 2).
CHARS_PER_INPUT = 8
#: Wall-clock seconds per render; real renders take milliseconds.
SECONDS = 2.0

_STEPS_FILTER = "grm_budget_steps"
_WRITE_FILTER = "grm_budget_write"
_SIZE_FILTER = "grm_budget_size"
_DIGITS = re.compile(r"[0-9]+")


class RenderBudgetError(RuntimeError):
    """A render went over its budget; the message says which limit and how far."""


class Budget:
    """What one render may still spend (steps, characters, time), and the largest value."""

    __slots__ = ("steps", "chars", "max_value", "deadline", "_limits")

    def __init__(self, input_chars: int = 0, seconds: float = SECONDS) -> None:
        self.steps = BASE_STEPS + input_chars
        self.chars = BASE_CHARS + CHARS_PER_INPUT * input_chars
        self.max_value = self.chars
        self.deadline = time.monotonic() + seconds
        self._limits = (self.steps, self.chars, seconds)

    def step(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise RenderBudgetError(
                f"took more than {self._limits[0]} steps (loop iterations, calls, filters and "
                "written pieces)"
            )
        if time.monotonic() > self.deadline:
            raise RenderBudgetError(f"took more than {self._limits[2]:g} s to render")

    def write(self, value: object) -> None:
        self.step()
        self.chars -= len(value) if isinstance(value, str) else len(str(value))
        if self.chars < 0:
            raise RenderBudgetError(f"wrote more than {self._limits[1]} characters")

    def allow(self, size: int, what: str) -> None:
        """Refuse an operation whose result would hold ``size`` items or characters."""
        if size > self.max_value:
            raise RenderBudgetError(
                f"{what} would build {size} characters or items, over the {self.max_value} "
                "one value may hold"
            )

    def check(self, value: object, what: str) -> object:
        if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset, range)):
            self.allow(len(value), what)
        return value


_ACTIVE: ContextVar[Budget | None] = ContextVar("grm_template_budget", default=None)


def _budget() -> Budget:
    """The render's budget; outside a render (jinja2 folding a constant at compile time) a
    fresh default one, so a constant expression cannot allocate more than a render could."""
    return _ACTIVE.get() or Budget()


def render(template: Any, values: Mapping[str, Any], input_chars: int) -> str:
    """``template.render(**values)`` under a fresh budget sized for ``input_chars``."""
    token = _ACTIVE.set(Budget(input_chars))
    try:
        return str(template.render(**values))
    finally:
        _ACTIVE.reset(token)


def _int_args(args: Iterable[object]) -> list[int]:
    return [a for a in args if isinstance(a, int) and not isinstance(a, bool)]


def _estimate(name: str, subject: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """An upper bound on the size of ``subject.name(*args)`` (a str method or the filter of
    that name) for the operations that multiply size; 0 for the rest."""
    if not isinstance(subject, str):
        return 0
    n = len(subject)
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        old, new = args[0], str(args[1])
        hits = n + 1 if not old else subject.count(old)
        return n + hits * max(len(new) - len(old), 0)
    if name == "expandtabs":
        size = (_int_args(args) or [kwargs.get("tabsize", 8)])[0]
        return n + subject.count("\t") * max(int(size), 0)
    if name in ("ljust", "rjust", "center", "zfill"):
        return max([n, *_int_args(args), *_int_args(kwargs.values())])
    if name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        pad = len(width) if isinstance(width, str) else max(int(width), 0)
        return n + (subject.count("\n") + 1) * pad
    if name in ("format", "format_map"):
        return n + max((int(d) for d in _DIGITS.findall(subject)), default=0)
    return 0


def _precheck(budget: Budget, name: str, subject: object, args: tuple[Any, ...], kw: Any) -> None:
    budget.step()
    for value in _int_args((*args, *kw.values())):
        budget.allow(value, f"{name}() with {value}")
    budget.allow(_estimate(name, subject, args, kw), f"{name}()")


def _budgeted_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` charged a step, its size-multiplying arguments refused, its result checked.
    ``functools.wraps`` keeps jinja2's pass-context marker, so the filter gets what it did."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        # A filter that takes the context, eval context or environment gets it first.
        plain = [a for a in args if not isinstance(a, (Context, EvalContext, Environment))]
        subject, rest = (plain[0], tuple(plain[1:])) if plain else (None, ())
        _precheck(budget, name, subject, rest, kwargs)
        return budget.check(func(*args, **kwargs), f"the {name} filter")

    return run


@pass_context
def _count_steps(context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
    """A for-loop's iterable, one step charged per item."""
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


@pass_context
def _count_write(context: Context, value: Any) -> Any:
    _budget().write(value)
    return value


@pass_context
def _check_size(context: Context, value: Any) -> Any:
    budget = _budget()
    budget.step()
    return budget.check(value, "a concatenation (~)")


def _range(*args: int) -> range:
    """``range``, paid for in steps when made (one per item)."""
    rng = range(*args)
    _budget().step(len(rng) + 1)
    return rng


def _wrap(node: Any, name: str) -> nodes.Filter:  # jinja2 types For.iter as a Node
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def _expr(piece: nodes.Expr) -> nodes.Expr:
    """A written piece as an expression (literal text becomes a constant)."""
    if isinstance(piece, nodes.TemplateData):
        return nodes.Const(piece.data, lineno=piece.lineno)
    return piece


class _Instrument(NodeTransformer):
    """Wraps for-loop iterables, written pieces and concatenations in the budget filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _wrap(node.iter, _STEPS_FILTER)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_wrap(_expr(child), _WRITE_FILTER) for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _wrap(node, _SIZE_FILTER)


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox with undefined names as errors and every render budgeted.

    Compile with :meth:`compile_budgeted` and render with :func:`render`.
    """

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, keep_trailing_newline=True)
        self.globals["range"] = _range
        # lipsum(n) writes n paragraphs of filler in one call: no template needs it.
        self.globals.pop("lipsum", None)
        self.filters = {name: _budgeted_filter(name, f) for name, f in self.filters.items()}
        self.filters[_STEPS_FILTER] = _count_steps
        self.filters[_WRITE_FILTER] = _count_write
        self.filters[_SIZE_FILTER] = _check_size

    def compile_budgeted(self, source: str | nodes.Template) -> Any:
        """Parse ``source`` (or take its parsed tree, which is changed in place), wrap it in
        the budget filters, compile it."""
        tree = self.parse(source) if isinstance(source, str) else source
        return self.from_string(_Instrument().visit(tree))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = _budget()
        budget.step()
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    budget.allow(len(seq) * max(count, 0), "a repetition (*)")
        elif operator == "+" and hasattr(left, "__len__") and hasattr(right, "__len__"):
            budget.allow(len(left) + len(right), "a concatenation (+)")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            budget.allow(left.bit_length() * right // 3, "a power (**)")
        elif operator == "%" and isinstance(left, str):
            budget.allow(_estimate("format", left, (), {}), "a % format")
        return budget.check(self.binop_table[operator](left, right), f"the {operator} operator")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = _budget()
        name = getattr(__obj, "__name__", type(__obj).__name__)
        # A str method's text; the sandbox hands str.format over wrapped (__wrapped__).
        subject = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        _precheck(budget, name, subject, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return budget.check(result, f"{name}()")
