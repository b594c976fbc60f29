"""The installed packages have no import circles (DESIGN.md: "No import runs back up").

The graph is read from the source with ``ast``, not by importing anything: every ``import``
and ``from ... import`` counts, at module level, inside a function, or under ``if
TYPE_CHECKING:``. An import deferred into a function or hidden from the interpreter hides a
circle, it does not break it: the two modules still depend on each other (issue 27 found
``grm.judge`` <-> ``grm.verdicts`` tied by a TYPE_CHECKING import, ``grm.types`` <->
``grm.feedback`` by a function-level one). An import of a submodule (``import grm.types``) is
an arrow to that module only, not to the package's ``__init__`` that Python also runs on the
way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from source_modules import module_files


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of ``modules`` it imports."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    # A relative import: from the module's own package, up level - 1.
                    parts = name.split(".") if is_package else name.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                # `from grm import types` imports the module grm.types; `from grm.types import
                # Chain` imports grm.types.
                targets = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else base for t in targets]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def cycle_path(graph: dict[str, set[str]], members: tuple[str, ...]) -> list[str]:
    """One loop through a circle's first module, for the failure message."""
    start, inside = members[0], set(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & inside):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return list(members)


def test_the_packages_have_no_import_circle() -> None:
    graph = import_graph(module_files())
    found = circles(graph)
    assert not found, "import circles: " + "; ".join(
        " -> ".join(cycle_path(graph, c)) for c in found
    )


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        # A module-level circle.
        ({"a": "import grm.b", "b": "from grm import a"}, [("grm.a", "grm.b")]),
        # A function-level import closes a circle too.
        (
            {"a": "from grm.b import x", "b": "def f():\n    from grm.a import y"},
            [("grm.a", "grm.b")],
        ),
        # A relative import resolves inside the package.
        ({"a": "from .b import x", "b": "from . import a"}, [("grm.a", "grm.b")]),
        # So does an import under TYPE_CHECKING: the modules still depend on each other.
        (
            {"a": "from grm.b import x", "b": "from typing import TYPE_CHECKING\n"
             "if TYPE_CHECKING:\n    from grm.a import y"},
            [("grm.a", "grm.b")],
        ),
        # A one-way chain is no circle.
        ({"a": "from grm.b import x", "b": "import numpy", "c": "import grm.a"}, []),
    ],
)  # fmt: skip
def test_the_checker_finds_circles(
    tmp_path: Path, sources: dict[str, str], expected: list[tuple[str, ...]]
) -> None:
    modules = {}
    for name, text in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text + "\n")
        modules[f"grm.{name}"] = path
    modules["grm"] = tmp_path / "__init__.py"
    modules["grm"].write_text("")
    assert circles(import_graph(modules)) == expected
