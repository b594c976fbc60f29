"""Harder verifiable task kinds with difficulty tiers: arithmetic, counting, ordering, units, dates.

Each generator returns task rows in the shape of :mod:`grm.training.tasks` (``prompt``,
``responses``, ``preferred``, ``task``, ``check``, ``claims``, ``ok``) plus ``tier`` and
``facts`` (the item's parameters, so a test or an audit can recompute the answer on its own).
The wrong response is the slip a person or a small model makes: a dropped carry, two digits
swapped, a count off by one, 100 minutes to the hour, a 30-day month, two neighbours swapped in
a sorted list.

Splits: an item belongs to the held-out split when a hash of ``seed`` and its canonical
question (the question without its phrasing) falls below ``eval_fraction``, so train and
held-out share no item whatever the phrasing, and the split is the same on every machine.
Items are drawn from the seeded sampler until enough fall in the requested split.

Tiers: ``easy`` (one step), ``medium`` (several steps or carries), ``hard`` (multi-step, long
inputs, traps such as 0.45 vs 0.405 or leap years), chosen by ``TaskConfig.tier``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import random
from collections.abc import Callable
from typing import Any, Protocol

TaskRow = dict[str, Any]
TIERS = ("easy", "medium", "hard")


class SuiteConfig(Protocol):
    """What the generators read from :class:`grm.training.tasks.TaskConfig`."""

    @property
    def seed(self) -> int: ...
    @property
    def eval_fraction(self) -> float: ...
    @property
    def tier(self) -> str: ...


# Short to long answer phrasings; the answer always appears verbatim.
_PHRASES = (
    "{x}",
    "The answer is {x}.",
    "It is {x}.",
    "{x}, I am fairly sure.",
    "Working through it step by step, I get {x}.",
    "After checking each part of the question carefully, the result comes out as {x}.",
    "Answer: {x}",
)


def in_eval(key: str, seed: int, eval_fraction: float) -> bool:
    """Whether the item with canonical question ``key`` is held out (a stable hash, no RNG).

    >>> in_eval("add|47|38", 0, 0.0), in_eval("add|47|38", 0, 1.0)
    (False, True)
    """
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction


def _row(
    task: str,
    tier: str,
    prompt: str,
    right: str,
    wrong: str,
    check: str,
    facts: dict[str, Any],
    rng: random.Random,
) -> TaskRow:
    preferred = rng.randrange(2)
    claims = [wrong, wrong]
    claims[preferred] = right
    responses = [rng.choice(_PHRASES).format(x=c) for c in claims]
    return {
        "prompt": prompt,
        "responses": responses,
        "preferred": preferred,
        "task": task,
        "tier": tier,
        "check": check,
        "claims": claims,
        "ok": [i == preferred for i in range(2)],
        "facts": facts,
    }


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
            return _row("arithmetic", cfg.tier, prompt, str(value), wrong, check, facts, rng)

        return f"arith|{expr}", build

    return _collect(cfg, split, n, draw)


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
            return _row("counting", cfg.tier, prompt, str(count), str(wrong), check, facts, rng)

        return key, build

    return _collect(cfg, split, n, draw)


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
            return _row("ordering", cfg.tier, prompt, right, wrong, check, facts, rng)

        return key, build

    return _collect(cfg, split, n, draw)


# ---------------------------------------------------------------- units and dates


def units(cfg: SuiteConfig, split: str, n: int, rng: random.Random) -> list[TaskRow]:
    """Hours/minutes, metric lengths and masses, clock times; the slip is a wrong factor."""

    def draw() -> tuple[str, Callable[[], TaskRow]]:
        kind = rng.choice(("minutes", "metric") if cfg.tier != "hard" else ("clock", "minutes"))
        if kind == "minutes":
            h = rng.randint(1, 9 if cfg.tier == "easy" else 23)
            m = 0 if cfg.tier == "easy" else rng.randint(1, 59)
            answer, wrong = h * 60 + m, h * 100 + m  # 100 minutes to the hour
            q = f"{h} hours" + (f" and {m} minutes" if m else "")
            key, prompt = f"min|{h}|{m}", f"How many minutes are in {q}?"
            check = f"{h} * 60 = {h * 60}" + (f", {h * 60} + {m} = {answer}" if m else "") + "."
            facts: dict[str, Any] = {"kind": "minutes", "hours": h, "minutes": m}
        elif kind == "metric":
            unit, small, factor = rng.choice(
                (("km", "m", 1000), ("kg", "g", 1000), ("m", "cm", 100))
            )
            whole = rng.randint(1, 99)
            tenths = 0 if cfg.tier == "easy" else rng.randint(1, 9)
            value = f"{whole}.{tenths}" if tenths else str(whole)
            answer = whole * factor + tenths * factor // 10
            other = 100 if factor == 1000 else 1000
            wrong = whole * other + tenths * other // 10  # the wrong conversion factor
            key, prompt = f"metric|{value}|{unit}", f"How many {small} are in {value} {unit}?"
            check = f"1 {unit} = {factor} {small}, so {value} * {factor} = {answer}."
            facts = {"kind": "metric", "value": value, "unit": unit, "to": small}
        else:
            h, m = rng.randint(0, 22), rng.randint(0, 59)
            d = rng.randint(10, 200)
            end = (h * 60 + m + d) % (24 * 60)
            answer_s = f"{end // 60}:{end % 60:02d}"
            carry_slip = (end - 60) % (24 * 60)  # the hour carry dropped
            wrong_s = f"{carry_slip // 60}:{carry_slip % 60:02d}"
            key = f"clock|{h}|{m}|{d}"
            prompt = (
                f"A task starts at {h}:{m:02d} and takes {d} minutes. At what time does it end?"
            )
            check = (
                f"{h}:{m:02d} is {h * 60 + m} minutes after midnight; {h * 60 + m} + {d} = "
                f"{h * 60 + m + d} minutes, which is {answer_s} on a 24-hour clock."
            )
            facts = {"kind": "clock", "start": [h, m], "duration": d}
            answer, wrong = answer_s, wrong_s  # type: ignore[assignment]

        def build() -> TaskRow:
            return _row("units", cfg.tier, prompt, str(answer), str(wrong), check, facts, rng)

        return key, build

    return _collect(cfg, split, n, draw)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def dates(cfg: SuiteConfig, split: str, n: int, rng: random.Random) -> list[TaskRow]:
    """Weekday after n days (easy), date after n days (medium), across years and leap days."""

    def draw() -> tuple[str, Callable[[], TaskRow]]:
        if cfg.tier == "easy":
            start, days = rng.randrange(7), rng.randint(2, 30)
            right, wrong = _DAYS[(start + days) % 7], _DAYS[(start + days + 1) % 7]
            key = f"weekday|{start}|{days}"
            prompt = f"Today is {_DAYS[start]}. What day of the week is it {days} days from now?"
            check = (
                f"{days} = 7 * {days // 7} + {days % 7}; "
                f"{days % 7} days after {_DAYS[start]} is {right}."
            )
            facts: dict[str, Any] = {"kind": "weekday", "start": start, "days": days}
        else:
            year = rng.choice((2023, 2024)) if cfg.tier == "hard" else 2023
            start_d = dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))
            days = rng.randint(5, 60) if cfg.tier == "medium" else rng.randint(40, 400)
            end = start_d + dt.timedelta(days=days)
            # The slip: every month taken as 30 days long; fall back to one day off.
            month = start_d.month - 1 + (start_d.day - 1 + days) // 30
            naive_day = (start_d.day - 1 + days) % 30 + 1
            try:
                slip = dt.date(start_d.year + month // 12, month % 12 + 1, naive_day)
            except ValueError:
                slip = end
            if slip == end:
                slip = end + dt.timedelta(days=rng.choice((-1, 1)))
            right, wrong = _date(end), _date(slip)
            key = f"date|{start_d.isoformat()}|{days}"
            prompt = f"What date is {days} days after {_date(start_d)}?"
            check = _date_walk(start_d, days)
            facts = {"kind": "date", "start": start_d.isoformat(), "days": days}

        def build() -> TaskRow:
            return _row("dates", cfg.tier, prompt, right, wrong, check, facts, rng)

        return key, build

    return _collect(cfg, split, n, draw)


def _date_walk(start: dt.date, days: int) -> str:
    """Month by month to the answer, each step a month length and a subtraction.

    >>> _date_walk(dt.date(2023, 11, 4), 49)
    'November 4 to December 1, 2023 is 27 days, 22 left; December 1 + 22 days is December 23, 2023.'
    """
    parts, cur, left = [], start, days
    while True:
        to_next = calendar.monthrange(cur.year, cur.month)[1] - cur.day + 1
        if left < to_next:
            end = cur + dt.timedelta(days=left)
            parts.append(f"{cur.strftime('%B')} {cur.day} + {left} days is {_date(end)}.")
            return "; ".join(parts)
        nxt = cur + dt.timedelta(days=to_next)
        left -= to_next
        parts.append(
            f"{cur.strftime('%B')} {cur.day} to {_date(nxt)} is {to_next} days, {left} left"
        )
        cur = nxt


def _date(d: dt.date) -> str:
    return f"{d.strftime('%B')} {d.day}, {d.year}"


# ---------------------------------------------------------------- sampling


def _collect(
    cfg: SuiteConfig,
    split: str,
    n: int,
    draw: Callable[[], tuple[str, Callable[[], TaskRow | None]]],
    salt: str = "",
) -> list[TaskRow]:
    """Draw items until ``n`` fall in ``split``; the split is decided by the canonical key.

    ``draw`` returns the key and a builder, so phrasing and slow work (running code) happen
    only for items of the wanted split.
    """
    if cfg.tier not in TIERS:
        raise ValueError(f"tier must be one of {list(TIERS)}, got {cfg.tier!r}.")
    want_eval = split == "eval"
    out: list[TaskRow] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 1000 + 200 * n:
            raise RuntimeError(
                f"only {len(out)} of {n} {split} items found; raise eval_fraction or lower n."
            )
        key, build = draw()
        if in_eval(salt + key, cfg.seed, cfg.eval_fraction) == want_eval:
            row = build()  # None: the item turned out unusable (no distinct wrong answer)
            if row is not None:
                row["facts"]["key"] = key
                out.append(row)
    return out
