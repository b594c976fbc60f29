"""Code-output prediction: tiny generated Python snippets whose output is found by running them.

"What does this print?" with the snippet's real output and the output of a one-token mutation
of it (a range end one further, ``<`` for ``<=``, a slice one longer): the off-by-one answer a
reader who traces the code carelessly gives. Both outputs come from running the code in a fresh
interpreter (``subprocess.run([sys.executable, "-c", code], timeout=...)``), never from a copy
of its logic, so a template that behaves unexpectedly still yields a right answer. Outputs are
cached per snippet. Rows follow :mod:`grm.training.task_suite` (``facts["code"]`` holds the
snippet).
"""

from __future__ import annotations

import functools
import random
import subprocess
import sys
from collections.abc import Callable

from grm.training.task_base import SuiteConfig, TaskRow, collect, pair_row

#: Seconds a snippet may run; the snippets here finish in milliseconds.
RUN_TIMEOUT_S = 5.0


@functools.lru_cache(maxsize=4096)
def run_snippet(code: str, timeout: float = RUN_TIMEOUT_S) -> str:
    """The stripped stdout of ``code`` run by a fresh Python; a failure raises with its stderr.

    >>> run_snippet("print(2 + 3)")
    '5'
    """
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"snippet failed ({proc.returncode}): {proc.stderr.strip()}\n{code}")
    return proc.stdout.strip()


def _snippet(tier: str, rng: random.Random) -> tuple[str, str]:
    """(code, mutated code): the mutation is one off-by-one edit of the same snippet."""
    a, b, c = rng.randint(2, 9), rng.randint(3, 12), rng.randint(2, 5)
    if tier == "easy":
        shape = rng.randrange(3)
        if shape == 0:
            code = f"x = {a}\ny = x * {c} + {b}\nprint(y - x)"
            return code, code.replace(f"+ {b}", f"+ {b + 1}")
        if shape == 1:
            word = rng.choice(("python", "banana", "kitchen", "elephant", "notebook"))
            code = f"s = '{word}'\nprint(s[{c - 1}:{c + 2}])"
            return code, f"s = '{word}'\nprint(s[{c}:{c + 3}])"
        code = f"xs = [{a}, {b}, {c}, {a + b}]\nprint(xs[{c % 4}] + xs[-1])"
        return code, code.replace(f"xs[{c % 4}]", f"xs[{(c + 1) % 4}]")
    if tier == "medium":
        shape = rng.randrange(3)
        if shape == 0:
            code = f"t = 0\nfor i in range({a}, {a + b}):\n    t += i\nprint(t)"
            return code, code.replace(f"{a + b})", f"{a + b + 1})")
        if shape == 1:
            code = (
                f"n = 0\nfor i in range({b + 10}):\n    if i % {c} == 0:\n        n += 1\nprint(n)"
            )
            return code, code.replace(f"range({b + 10})", f"range({b + 11})")
        code = f"k = {a * 8}\nc = 0\nwhile k > {c}:\n    k = k // 2\n    c += 1\nprint(c)"
        return code, code.replace(f"k > {c}", f"k >= {c}")
    shape = rng.randrange(3)
    if shape == 0:
        code = (
            f"t = 0\nfor i in range(1, {c + 1}):\n    for j in range(i, {c + 2}):\n"
            f"        t += i * j\nprint(t % {b * 10 + 7})"
        )
        return code, code.replace(f"range(i, {c + 2})", f"range(i, {c + 3})")
    if shape == 1:
        code = f"xs = [i * i % {b + 5} for i in range({a + 6})]\nxs.sort()\nprint(xs[{c}:{c + 3}])"
        return code, code.replace(f"range({a + 6})", f"range({a + 7})").replace("xs.sort()\n", "")
    code = (
        f"d = {{}}\nfor w in 'the cat sat on the mat by the hat'.split():\n"
        f"    d[w[{c % 2}]] = d.get(w[{c % 2}], 0) + 1\nprint(sorted(d.items())[:{c}])"
    )
    return code, code.replace(f"[:{c}]", f"[:{c + 1}]")


_QUESTIONS = (
    "What does this Python code print?\n\n{code}",
    "Predict the output of the following program.\n\n```python\n{code}\n```",
    "Run this in your head and give its exact output:\n\n{code}",
)


def code_output(cfg: SuiteConfig, split: str, n: int, rng: random.Random) -> list[TaskRow]:
    """Tiny snippets per tier: one statement (easy), a loop (medium), nested or data code (hard)."""

    def draw() -> tuple[str, Callable[[], TaskRow | None]]:
        code, mutated = _snippet(cfg.tier, rng)

        def build() -> TaskRow | None:
            right = run_snippet(code)
            wrong = run_snippet(mutated)
            if wrong == right:  # the mutation changed nothing here: off by one, or redraw
                if not right.lstrip("-").isdigit():
                    return None
                wrong = str(int(right) + 1)
            prompt = rng.choice(_QUESTIONS).format(code=code)
            check = f"Tracing the code line by line, it prints {right}."
            facts = {"code": code, "mutated": mutated}
            return pair_row("code", cfg.tier, prompt, right, wrong, check, facts, rng)

        return f"code|{code}", build

    return collect(cfg, split, n, draw)
