"""Command-line flags built from a config dataclass: one source for names, types and help.

Every field of :class:`grm.config.JudgeConfig` becomes ``--field-name``; its type comes from
the annotation, its help text from the docstring written under the field (read with
``ast``), and the choices of registry-backed fields from the registry. A flag the user did
not give is absent from the parsed namespace (``argparse.SUPPRESS``), so the dataclass's own
default applies and an explicit ``none`` can still clear a field whose None means something.

>>> import argparse
>>> from grm.config import JudgeConfig
>>> p = argparse.ArgumentParser()
>>> add_config_args(p, JudgeConfig, only={"k", "temperature", "shuffle"})
>>> config_overrides(p.parse_args(["--k", "auto", "--temperature", "none"]), JudgeConfig)
{'k': 'auto', 'temperature': None}
>>> engine_options(['urls="http://h:1,http://h:2"', "tensor_parallel_size=2", "x={\\"a\\": 1}"])
{'urls': 'http://h:1,http://h:2', 'tensor_parallel_size': 2, 'x': {'a': 1}}
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import cache
from typing import Any, Literal

#: Fields whose values are registry names: field -> function listing the names.
RegistryChoices = Mapping[str, Callable[[], Iterable[str]]]


@cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source with ``ast``."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (a frozen build): fall back to no help
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    stmts = body.body
    for stmt, nxt in zip(stmts, stmts[1:], strict=False):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(nxt.value.value.split())
    return docs


def _parts(hint: Any) -> tuple[list[Any], bool]:
    """The alternatives of a (possibly optional) union annotation, and whether None is one."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        alts = list(typing.get_args(hint))
    else:
        alts = [hint]
    optional = type(None) in alts
    return [a for a in alts if a is not type(None)], optional


def _value_type(name: str, alts: list[Any], optional: bool) -> Callable[[str], Any]:
    """A converter for one flag's text: literals, then int, float, str; 'none' for None."""
    literals = [v for a in alts if typing.get_origin(a) is Literal for v in typing.get_args(a)]
    kinds = [a for a in alts if isinstance(a, type)]
    flag = "--" + name.replace("_", "-")

    def convert(text: str) -> Any:
        if optional and text.lower() == "none":
            return None
        if text in literals:
            return text
        for kind in (int, float):
            if kind in kinds:
                try:
                    return kind(text)
                except ValueError:
                    continue
        if str in kinds:
            return text
        wanted = [repr(v) for v in literals] + [k.__name__ for k in kinds]
        if optional:
            wanted.append("none")
        raise argparse.ArgumentTypeError(f"{flag} must be {' or '.join(wanted)}, got {text!r}")

    return convert


def _tuple_of_str(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split(",") if w.strip())


def add_config_args(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    skip: Collection[str] = (),
    only: Collection[str] | None = None,
    choices: RegistryChoices | None = None,
) -> None:
    """Add ``--field-name`` for every field of dataclass ``cls`` (bar ``skip``).

    Unset flags stay out of the namespace; :func:`config_overrides` collects the set ones.
    """
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or (only is not None and f.name not in only):
            continue
        alts, optional = _parts(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f.metadata.get("help") or docs.get(f.name, "")
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "dest": f.name}
        if alts == [bool]:
            kw["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(alts[0]) is tuple:
            kw["type"], kw["metavar"] = _tuple_of_str, "A,B,..."
            default = ",".join(default) if isinstance(default, tuple) else default
        else:
            kw["type"] = _value_type(f.name, alts, optional)
            listed = (choices or {}).get(f.name)
            literals = [str(v) for a in alts if typing.get_origin(a) is Literal for v in a.__args__]
            names = list(listed()) if listed else literals if len(alts) == 1 and literals else []
            if names:
                kw["choices"] = [*names, None] if optional else names
                kw["metavar"] = "{" + ",".join(names + (["none"] if optional else [])) + "}"
        kw["help"] = f"{help_text} (default: {default})".strip().replace("%", "%%")
        parser.add_argument("--" + f.name.replace("_", "-"), **kw)


def config_overrides(
    args: argparse.Namespace, cls: type, skip: Collection[str] = ()
) -> dict[str, Any]:
    """The fields of ``cls`` the user set on the command line; ``skip`` names the fields a
    command declares itself under the same name (its own ``--k``, say), as given to
    :func:`add_config_args`."""
    names = {f.name for f in dataclasses.fields(cls)} - set(skip)
    return {k: v for k, v in vars(args).items() if k in names}


def engine_options(pairs: list[str]) -> dict[str, Any]:
    """``--engine-option KEY=VALUE`` flags; each VALUE is read as JSON, else as a string.

    ``tensor_parallel_size=2`` gives an int, ``enforce_eager=true`` a bool,
    ``extra={"quantization": "fp8"}`` a dict, ``urls=http://h1,http://h2`` a string.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"--engine-option {pair!r} must be KEY=VALUE, e.g. tensor_parallel_size=2."
            )
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def add_progress_args(p: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--quiet``: the run's progress bar (items, chains, chains/s) on
    stderr. Neither flag: shown when stderr is a terminal."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--progress",
        dest="progress",
        action="store_const",
        const=True,
        default=None,
        help="show the progress bar even when stderr is not a terminal (a log file)",
    )
    group.add_argument(
        "--quiet",
        "--no-progress",
        dest="progress",
        action="store_const",
        const=False,
        help="no progress bar",
    )
