"""Unit and date arithmetic task kinds, with difficulty tiers.

The rows have the shape of :mod:`grm.training.task_suite`. The wrong response is the slip a
person makes: 100 minutes to the hour, the wrong metric factor, a dropped hour carry on a clock,
every month taken as 30 days, a weekday off by one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from grm.training.task_base import SuiteConfig, TaskRow, collect, pair_row


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
            return pair_row("units", cfg.tier, prompt, str(answer), str(wrong), check, facts, rng)

        return key, build

    return collect(cfg, split, n, draw)


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
            return pair_row("dates", cfg.tier, prompt, right, wrong, check, facts, rng)

        return key, build

    return collect(cfg, split, n, draw)


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
