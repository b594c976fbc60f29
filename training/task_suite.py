"""Harder verifiable task kinds with difficulty tiers: arithmetic, counting, ordering, units, dates.

Each generator returns task rows in the shape of :mod:`grm.training.tasks` (``prompt``,
``responses``, ``preferred``, ``task``, ``check``, ``claims``, ``ok``) plus ``tier`` and
``facts`` (the item's parameters, so a test or an audit can recompute the answer on its own).
The wrong response is the slip a person or a small model makes: a dropped carry, two digits
swapped, a count off by one, 100 minutes to the hour, a 30-day month, two neighbours swapped in
a sorted list.

Splits and sampling (:mod:`grm.training.task_base`): an item is held out by a stable hash of
its canonical question, so train and held-out share no item whatever the phrasing. The unit
and date kinds live in :mod:`grm.training.task_dates_units` and are importable from here.

Tiers: ``easy`` (one step), ``medium`` (several steps or carries), ``hard`` (multi-step, long
inputs, traps such as 0.45 vs 0.405 or leap years), chosen by ``TaskConfig.tier``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from grm.training.task_base import (
    TIERS,
    SuiteConfig,
    TaskRow,
    collect,
    in_eval,
    pair_row,
)
from grm.training.task_dates_units import dates, units

__all__ = [
    "TIERS",
    "SuiteConfig",
    "TaskRow",
    "arithmetic",
    "counting",
    "dates",
    "in_eval",
    "near_miss",
    "ordering",
    "units",
]


def near_miss(answer: int, rng: random.Random) -> int:
    """A wrong integer a slip produces: a carry dropped or added, +-1, or two digits swapped.

    >>> all(near_miss(1085, random.Random(s)) != 1085 for s in range(50))
    True
    """
    options = [answer + d for d in (-1, 1)]
    digits = str(abs(answer))
    options += [answer + s * 10**p for p in range(1, len(digits)) for s in (-1, 1)]
    for i in range(len(digits) - 1):
        if digits[i] != digits[i + 1] and not (i == 0 and digits[i + 1] == "0"):
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            options += [int(swapped) * (-1 if answer < 0 else 1)] * 2
    return rng.choice([o for o in options if o != answer and (o >= 0 or answer < 0)])


# ---------------------------------------------------------------- arithmetic


def _expression(tier: str, rng: random.Random) -> tuple[str, list[str], int]:
    """(expression, worked steps, value), evaluated left to right as written."""
    if tier == "easy":
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        terms: list[tuple[str, int]] = [(rng.choice("+-"), b)]
    elif tier == "medium":
        a = rng.randint(100, 9999)
        terms = [(rng.choice("+-"), rng.randint(100, 9999))]
        if rng.random() < 0.5:
            terms = [("*", rng.randint(2, 9))]
            a = rng.randint(12, 999)
    else:
        a = rng.randint(10, 999)
        ops = [rng.choice("+-*") for _ in range(rng.randint(2, 3))]
        terms = [(op, rng.randint(2, 12) if op == "*" else rng.randint(10, 999)) for op in ops]
    text, value, steps, last = str(a), a, [], ""
    for op, x in terms:
        new = value + x if op == "+" else value - x if op == "-" else value * x
        steps.append(f"{value} {op} {x} = {new}")
        if op == "*" and last in ("+", "-"):
            text = f"({text})"
        text, value, last = f"{text} {op} {x}", new, op
    return text, steps, value


_ARITH_Q = ("What is {e}?", "Compute {e}.", "Evaluate {e}.", "Work out {e} and give the number.")


def arithmetic(cfg: SuiteConfig, split: str, n: int, rng: random.Random) -> list[TaskRow]:
    """Multi-digit sums and differences with carries, products, multi-step expressions."""

    def draw() -> tuple[str, Callable[[], TaskRow]]:
        expr, steps, value = _expression(cfg.tier, rng)

        def build() -> TaskRow:
            check = ", ".join(steps) + f", so {expr} = {value}."
            prompt = rng.choice(_ARITH_Q).format(e=expr)
            wrong = str(near_miss(value, rng))
            facts = {"expression": expr}
            return pair_row("arithmetic", cfg.tier, prompt, str(value), wrong, check, facts, rng)

        return f"arith|{expr}", build

    return collect(cfg, split, n, draw)


# ---------------------------------------------------------------- counting

_WORDS = (  # noqa: SIM905
    "strawberry banana mississippi bookkeeper committee necessary occurrence parallel "
    "assessment balloon coffee letter pepper success tomorrow address apple river window "
    "garden pencil sister little bottle kitten mirror summer dinner yellow happiness "
    "referee engineer accommodate embarrass millennium possession questionnaire"
).split()
_ITEMS = (  # noqa: SIM905
    "apple pear plum lemon cherry mango grape melon peach lime kiwi fig date olive "
    "carrot onion leek bean pea corn chair table lamp sofa desk shelf clock rug"
).split()
_LENGTHS = {"easy": (3, 6), "medium": (7, 12), "hard": (13, 20)}


def counting(cfg: SuiteConfig, split: str, n: int, rng: random.Random) -> list[TaskRow]:
    """Letters in a word, words in a sentence, items in a list; the wrong count is off by one."""

    def draw() -> tuple[str, Callable[[], TaskRow]]:
        lo, hi = _LENGTHS[cfg.tier]
        what = rng.choice(("letter", "words", "items"))
        if what == "letter":
            word = rng.choice(_WORDS)
            if cfg.tier != "easy":  # longer strings: two or three words run together
                word = " ".join(rng.sample(_WORDS, 2 if cfg.tier == "medium" else 3))
            letter = rng.choice(sorted(set(word) - {" "}))
            count = word.count(letter)
            key = f"letter|{word}|{letter}"
            prompt = rng.choice(
                (
                    f"How many times does the letter '{letter}' appear in '{word}'?",
                    f'Count the letter {letter} in "{word}".',
                )
            )
            spots = [str(i + 1) for i, c in enumerate(word.replace(" ", "")) if c == letter]
            check = f"'{letter}' is at letter positions {', '.join(spots)}: {count} in total."
            facts: dict[str, Any] = {"kind": "letter", "text": word, "letter": letter}
        else:
            pool = _ITEMS if what == "items" else _WORDS + _ITEMS
            seq = [rng.choice(pool) for _ in range(rng.randint(lo, hi))]
            count = len(seq)
            if what == "items":
                text = ", ".join(seq)
                key = f"items|{text}"
                prompt = f"How many items are in this list: {text}?"
            else:
                text = " ".join(seq)
                key = f"words|{text}"
                prompt = f"How many words are in this sentence: '{text}'?"
            check = " ".join(f"{i + 1} {w}" for i, w in enumerate(seq)) + f", so {count}."
            facts = {"kind": what, "text": text}

        def build() -> TaskRow:
            wrong = count + rng.choice((-1, 1)) if count > 1 else count + 1
            return pair_row("counting", cfg.tier, prompt, str(count), str(wrong), check, facts, rng)

        return key, build

    return collect(cfg, split, n, draw)


# ---------------------------------------------------------------- ordering


def ordering(cfg: SuiteConfig, split: str, n: int, rng: random.Random) -> list[TaskRow]:
    """Sort a short list, or say which of two numbers is larger (decimal traps when hard)."""

    def draw() -> tuple[str, Callable[[], TaskRow]]:
        if rng.random() < 0.5:
            size = {"easy": 3, "medium": 5, "hard": 8}[cfg.tier]
            top = {"easy": 50, "medium": 500, "hard": 5000}[cfg.tier]
            xs = rng.sample(range(1, top), size)
            ys = sorted(xs)
            bad = list(ys)
            i = rng.randrange(size - 1)
            bad[i], bad[i + 1] = bad[i + 1], bad[i]
            listed = ", ".join(map(str, xs))
            right, wrong = ", ".join(map(str, ys)), ", ".join(map(str, bad))
            key = f"sort|{listed}"
            prompt = rng.choice(
                (
                    f"Sort these numbers from smallest to largest: {listed}.",
                    f"Put {listed} in increasing order.",
                )
            )
            check = "Smallest first: " + " < ".join(map(str, ys)) + "."
            facts: dict[str, Any] = {"kind": "sort", "numbers": xs}
        else:
            if cfg.tier == "hard":  # 4.45 vs 4.405: the longer decimal is not the larger
                w, t, u, v = (
                    rng.randint(0, 9),
                    rng.randint(0, 9),
                    rng.randint(1, 9),
                    rng.randint(1, 9),
                )
                big, small = f"{w}.{t}{u}", f"{w}.{t}0{v}"
                check = f"Compare {big}0 and {small}: {big}0 > {small}, so {big} is larger."
            else:
                a = rng.randint(10, 99) if cfg.tier == "easy" else rng.randint(1000, 9999)
                b = a + rng.randint(1, 9 if cfg.tier == "easy" else 90)
                big, small = str(b), str(a)
                check = f"{b} - {a} = {b - a} > 0, so {b} is larger."
            right, wrong = big, small
            first, second = (big, small) if rng.random() < 0.5 else (small, big)
            key = f"larger|{small}|{big}"
            prompt = rng.choice(
                (
                    f"Which is larger, {first} or {second}?",
                    f"Which number is bigger: {first} or {second}?",
                )
            )
            facts = {"kind": "larger", "numbers": [first, second]}

        def build() -> TaskRow:
            return pair_row("ordering", cfg.tier, prompt, right, wrong, check, facts, rng)

        return key, build

    return collect(cfg, split, n, draw)
