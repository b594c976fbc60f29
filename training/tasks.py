"""Verifiable preference tasks generated in code, with disjoint train / held-out splits.

Each task item is a judge request whose better response is known by construction, so a judge
can be trained and measured on this machine without any download:

- ``addition``: "What is 47 + 38?" with the right sum and a wrong one, off by a small offset
  (+-1, +-2, +-10) or with its digits swapped (the slips people and small models make).
- ``constraint``: "... End your reply with the word 'done'." with one reply that obeys the
  stated constraint and one that does not.
- ``arithmetic``, ``counting``, ``ordering``, ``units``, ``dates`` (:mod:`~grm.training.task_suite`)
  and ``code`` (:mod:`~grm.training.code_tasks`): tiered kinds (``TaskConfig.tier``) whose
  held-out split is cut by a hash of each item's canonical question.

Splits are disjoint by construction: operand pairs (order-free, so 47 + 38 and 38 + 47 fall
in the same split) and (question, keyword) pairs are shuffled with a seed and cut, so no
held-out item shares its operands or its constraint instance with a training item.

Every item carries the facts a templated rationale needs (see :mod:`grm.training.rationales`):
the worked check and what each response claims, so the verdict follows mechanically.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grm.training import task_suite
from grm.training.code_tasks import code_output

from grm.registry import Registry

#: A task item: ``prompt``, ``responses`` (two strings), ``preferred`` (index of the better
#: response), ``task`` (the family name), ``check`` (the worked solution), ``claims`` (what
#: each response asserts, as shown in a rationale) and ``ok`` (whether each one is right).
TaskRow = dict[str, Any]
Split = str  # "train" or "eval"

_ADD_PHRASES = (
    "{s}",
    "The answer is {s}.",
    "{a} + {b} = {s}",
    "It is {s}.",
    "{a} plus {b} equals {s}.",
    "Adding them gives {s}.",
)
_ADD_QUESTIONS = (
    "What is {a} + {b}?",
    "Compute {a} + {b}.",
    "What do you get when you add {a} and {b}?",
    "Calculate the sum {a} + {b}.",
)

_CONSTRAINT_QUESTIONS = (
    ("Name a fruit that is red.", "An apple is a red fruit"),
    ("What color is the sky on a clear day?", "The sky is blue on a clear day"),
    ("Name a large animal that lives in the sea.", "The blue whale lives in the sea"),
    ("What do bees make?", "Bees make honey"),
    ("Name a planet in our solar system.", "Mars is a planet in our solar system"),
    ("What is frozen water called?", "Frozen water is called ice"),
    ("Which season comes after winter?", "Spring comes after winter"),
    ("What do cows drink?", "Cows drink water"),
    ("Name a musical instrument with strings.", "The guitar has strings"),
    ("What do you use to write on paper?", "You can write with a pen"),
    ("What is the opposite of hot?", "The opposite of hot is cold"),
    ("How many legs does a spider have?", "A spider has eight legs"),
    ("Name a vegetable that is orange.", "A carrot is orange"),
    ("What gas do plants take in?", "Plants take in carbon dioxide"),
    ("Where do fish live?", "Fish live in water"),
    ("Name a shape with three sides.", "A triangle has three sides"),
)
_KEYWORDS = (
    "done", "thanks", "okay", "indeed", "friend", "today", "always", "really", "please",
    "yes", "sure", "truly", "again", "now", "there", "above",
)  # fmt: skip


def wrong_sum(answer: int, rng: random.Random) -> int:
    """A plausible wrong answer: a small offset or the digits swapped (never the answer).

    >>> wrong_sum(85, random.Random(0)) != 85
    True
    """
    options = [answer + d for d in (-1, 1, -2, 2, -10, 10) if answer + d >= 0]
    digits = str(answer)
    if len(digits) >= 2 and digits[-1] != digits[-2] and digits[-1] != "0":
        options += [int(digits[:-2] + digits[-1] + digits[-2])] * 3  # weight the swap up
    return rng.choice([o for o in options if o != answer])


def addition_check(a: int, b: int) -> str:
    """The column-by-column sum a small model can follow: ones first, then tens with carry.

    >>> addition_check(47, 38)
    '7 + 8 = 15, 4 + 3 + 1 = 8, so 47 + 38 = 85.'
    >>> addition_check(12, 30)
    '2 + 0 = 2, 1 + 3 = 4, so 12 + 30 = 42.'
    """
    ones = a % 10 + b % 10
    carry = ones // 10
    tens_terms = f"{a // 10} + {b // 10}" + (f" + {carry}" if carry else "")
    tens = a // 10 + b // 10 + carry
    return f"{a % 10} + {b % 10} = {ones}, {tens_terms} = {tens}, so {a} + {b} = {a + b}."


def addition_item(a: int, b: int, rng: random.Random) -> TaskRow:
    """One addition item; the right response lands in slot 0 or 1 at random."""
    answer = a + b
    wrong = wrong_sum(answer, rng)
    phrase_right, phrase_wrong = rng.choice(_ADD_PHRASES), rng.choice(_ADD_PHRASES)
    right = phrase_right.format(a=a, b=b, s=answer)
    bad = phrase_wrong.format(a=a, b=b, s=wrong)
    preferred = rng.randrange(2)
    responses = [bad, bad]
    responses[preferred] = right
    claims = [str(wrong), str(wrong)]
    claims[preferred] = str(answer)
    return {
        "prompt": rng.choice(_ADD_QUESTIONS).format(a=a, b=b),
        "responses": responses,
        "preferred": preferred,
        "task": "addition",
        "check": addition_check(a, b),
        "claims": claims,
        "ok": [i == preferred for i in range(2)],
    }


def constraint_item(q: int, k: int, rng: random.Random) -> TaskRow:
    """One constraint item: the reply must end with a given word; one reply does not."""
    question, answer = _CONSTRAINT_QUESTIONS[q]
    keyword = _KEYWORDS[k]
    other = rng.choice([w for w in _KEYWORDS if w != keyword])
    preferred = rng.randrange(2)
    responses = [f"{answer}, {other}.", f"{answer}, {other}."]
    responses[preferred] = f"{answer}, {keyword}."
    claims = [other, other]
    claims[preferred] = keyword
    return {
        "prompt": f"{question} End your reply with the word '{keyword}'.",
        "responses": responses,
        "preferred": preferred,
        "task": "constraint",
        "check": f"The reply must end with '{keyword}'.",
        "claims": claims,
        "ok": [i == preferred for i in range(2)],
    }


@dataclass(frozen=True)
class TaskConfig:
    """Which verifiable tasks to generate, how many, and how the splits are cut."""

    tasks: tuple[str, ...] = ("addition",)
    """Task families (keys of :data:`TASKS`), mixed evenly."""
    low: int = 10
    """Smallest addition operand."""
    high: int = 99
    """Largest addition operand."""
    tier: str = "medium"
    """Difficulty of the tiered kinds (``easy``, ``medium``, ``hard``; see
    :mod:`grm.training.task_suite`); addition and constraint items have one tier."""
    eval_fraction: float = 0.15
    """Share of operand pairs (and constraint instances) held out for evaluation."""
    seed: int = 0
    """Seed of the split and of the item sampler: the same seed gives the same items."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Reserved for task families registered by users."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        unknown = [t for t in self.tasks if t not in TASKS]
        if not self.tasks or unknown:
            raise ValueError(
                f"tasks must name known task families, got {list(self.tasks)}; "
                f"choose from {sorted(TASKS)}."
            )
        if not 0 <= self.low < self.high:
            raise ValueError(
                f"low and high must satisfy 0 <= low < high, got {self.low}, {self.high}."
            )
        if self.tier not in task_suite.TIERS:
            raise ValueError(f"tier must be one of {list(task_suite.TIERS)}, got {self.tier!r}.")
        if not 0 < self.eval_fraction < 1:
            raise ValueError(f"eval_fraction must be in (0, 1), got {self.eval_fraction}.")


def _split_keys(keys: list[Any], cfg: TaskConfig, salt: str) -> dict[Split, list[Any]]:
    rng = random.Random(f"{cfg.seed}-{salt}")
    keys = sorted(keys)
    rng.shuffle(keys)
    cut = max(1, round(len(keys) * cfg.eval_fraction))
    return {"eval": keys[:cut], "train": keys[cut:]}


def addition_split(cfg: TaskConfig) -> dict[Split, list[tuple[int, int]]]:
    """Order-free operand pairs per split (``a <= b``); the two lists are disjoint."""
    pairs = [(a, b) for a in range(cfg.low, cfg.high + 1) for b in range(a, cfg.high + 1)]
    return _split_keys(pairs, cfg, "addition")


def constraint_split(cfg: TaskConfig) -> dict[Split, list[tuple[int, int]]]:
    """(question, keyword) index pairs per split; the two lists are disjoint."""
    keys = [(q, k) for q in range(len(_CONSTRAINT_QUESTIONS)) for k in range(len(_KEYWORDS))]
    return _split_keys(keys, cfg, "constraint")


def _addition(cfg: TaskConfig, split: Split, n: int, rng: random.Random) -> list[TaskRow]:
    pairs = addition_split(cfg)[split]
    out = []
    for _ in range(n):
        a, b = rng.choice(pairs)
        if rng.random() < 0.5:
            a, b = b, a
        out.append(addition_item(a, b, rng))
    return out


def _constraint(cfg: TaskConfig, split: Split, n: int, rng: random.Random) -> list[TaskRow]:
    keys = constraint_split(cfg)[split]
    return [constraint_item(*rng.choice(keys), rng) for _ in range(n)]


#: Task family name -> generator(cfg, split, n, rng) of that many items from that split.
TASKS: Registry[Callable[[TaskConfig, Split, int, random.Random], list[TaskRow]]] = Registry(
    "task family"
)
TASKS.register("addition", _addition)
TASKS.register("constraint", _constraint)
TASKS.register("arithmetic", task_suite.arithmetic)
TASKS.register("counting", task_suite.counting)
TASKS.register("ordering", task_suite.ordering)
TASKS.register("units", task_suite.units)
TASKS.register("dates", task_suite.dates)
TASKS.register("code", code_output)
#: The tiered kinds of :mod:`grm.training.task_suite` and :mod:`grm.training.code_tasks`.
SUITE = ("arithmetic", "counting", "ordering", "units", "dates", "code")


def make_tasks(cfg: TaskConfig, split: Split, n: int) -> list[TaskRow]:
    """``n`` items of ``split`` ('train' or 'eval'), the families mixed evenly, seeded.

    >>> rows = make_tasks(TaskConfig(), "eval", 3)
    >>> len(rows), rows[0]["task"], sorted(rows[0])[:3]
    (3, 'addition', ['check', 'claims', 'ok'])
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}.")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    rng = random.Random(f"{cfg.seed}-{split}-items")
    per = [
        n // len(cfg.tasks) + (1 if i < n % len(cfg.tasks) else 0) for i in range(len(cfg.tasks))
    ]
    rows: list[TaskRow] = []
    for name, count in zip(cfg.tasks, per, strict=True):
        rows.extend(TASKS[name](cfg, split, count, rng))
    rng.shuffle(rows)
    return rows
