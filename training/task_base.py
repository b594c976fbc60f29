"""What every generated task kind shares: the row shape, tiers, the split rule, sampling.

An item belongs to the held-out split when a hash of ``seed`` and its canonical question (the
question without its phrasing) falls below ``eval_fraction``, so train and held-out share no
item whatever the phrasing, and the split is the same on every machine. :func:`collect` draws
items from a kind's seeded sampler until enough fall in the requested split.
"""

from __future__ import annotations

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


def pair_row(
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


def collect(
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
