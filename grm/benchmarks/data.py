"""The request sets the benchmarks judge, each built the same way every time.

Every set is seeded and built from code or from the shared JudgeBench file, so a benchmark
run can be repeated on the same items. An item is ``(request, label)`` or, for the held-out
suite, ``(request, label, kind)``; ``label`` is the index of the better response.

>>> [r.prompt for r in addition_requests(2)]
['What is 59 + 63?', 'What is 75 + 72?']
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from grm.benchmarks.record import ROOT
from grm.types import JudgeRequest

JUDGEBENCH = Path(__file__).resolve().parents[3] / "shared" / "data" / "judgebench-gpt4o.jsonl"
"""The JudgeBench GPT-4o pairs, read from the shared data folder beside the checkout (never
copied into the repository)."""
KINDS = ("arithmetic", "counting", "ordering", "units", "dates", "code")
"""The six task kinds of :mod:`grm.training.tasks`' verifiable suite."""


def trained_judges(root: Path = ROOT) -> list[Path]:
    """The trained judges of the checkout's ``runs/`` (GRPO first, then SFT) that hold a
    ``config.json``."""
    found = [root / "runs" / "judge-grpo", root / "runs" / "judge-sft"]
    return [d for d in found if (d / "config.json").is_file()]


def suite(
    kinds: list[str] | tuple[str, ...], per_kind: int, tier: str = "medium", offset: int = 0
) -> list[tuple[JudgeRequest, int, str]]:
    """The held-out split (seed 0) of each task kind: pairs ``offset`` to ``offset+per_kind``.

    One seeded stream per kind, so the first ``per_kind`` pairs of a larger set are those of
    a smaller one, and ``offset`` reaches pairs no smaller run has seen.
    """
    from grm.training.tasks import TaskConfig, make_tasks

    items = []
    for kind in kinds:
        cfg = TaskConfig(tasks=(kind,), tier=tier, seed=0)
        rows = make_tasks(cfg, "eval", offset + per_kind)[offset:]
        items += [
            (JudgeRequest(r["prompt"], tuple(r["responses"])), r["preferred"], kind) for r in rows
        ]
    return items


def judgebench(n: int, path: Path = JUDGEBENCH) -> list[tuple[JudgeRequest, int]]:
    """The first ``n`` JudgeBench rows; label 0 for ``A>B``, 1 otherwise."""
    with path.open() as f:
        rows = [json.loads(line) for _, line in zip(range(n), f, strict=False)]
    return [
        (
            JudgeRequest(r["question"], (r["response_A"], r["response_B"])),
            0 if r["label"] == "A>B" else 1,
        )
        for r in rows
    ]


def heldout_addition(n: int) -> list[tuple[JudgeRequest, int]]:
    """The first ``n`` held-out two-digit addition pairs (``TaskConfig()``'s eval split)."""
    from grm.training.tasks import TaskConfig, make_tasks

    return [
        (JudgeRequest(r["prompt"], tuple(r["responses"])), int(r["preferred"]))
        for r in make_tasks(TaskConfig(), "eval", n)
    ]


def addition_requests(n: int, seed: int = 0) -> list[JudgeRequest]:
    """Throughput requests: two-digit sums, the right one against one off by 1 or 10."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y = rng.randint(10, 99), rng.randint(10, 99)
        right, wrong = x + y, x + y + rng.choice([-10, -1, 1, 10])
        a, b = (right, wrong) if rng.random() < 0.5 else (wrong, right)
        out.append(JudgeRequest(f"What is {x} + {y}?", (f"{x} + {y} = {a}.", f"{x} + {y} = {b}.")))
    return out


def serve_requests(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Request bodies for the serving benchmark: bare sums off by 1 or 2, the right one
    first on odd indices."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x, y = rng.randint(10, 99), rng.randint(10, 99)
        right, wrong = str(x + y), str(x + y + rng.choice([-2, -1, 1, 2]))
        a, b = (right, wrong) if i % 2 else (wrong, right)
        out.append({"prompt": f"What is {x} + {y}?", "responses": [a, b]})
    return out


def label_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Rows for the labelling benchmark: the right sum against a near miss, shuffled."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x, y = rng.randint(10, 89), rng.randint(10, 89)
        miss = x + y + rng.choice([-1, 1]) * rng.randint(1, 9)
        pair = [f"{x} + {y} = {x + y}", f"{x} + {y} = {miss}"]
        rng.shuffle(pair)
        rows.append({"prompt": f"What is {x} + {y}?", "responses": pair})
    return rows


def rank_group(rng: random.Random, n: int) -> tuple[Any, int]:
    """One ranking group: a sum question, ``n`` candidate answers in four phrasings, exactly
    one right (the others off by 1-12); returns the item and the right candidate's index."""
    from grm.ranking import RankItem

    x, y = rng.randint(10, 89), rng.randint(10, 89)
    right = x + y
    wrong: set[int] = set()
    while len(wrong) < n - 1:
        w = right + rng.choice([-1, 1]) * rng.randint(1, 12)
        if w != right and w > 0:
            wrong.add(w)
    answers = [right, *sorted(wrong)]
    rng.shuffle(answers)
    styles = ["{v}", "The answer is {v}.", "{x} + {y} = {v}", "Adding {x} and {y} gives {v}."]
    cands = tuple(rng.choice(styles).format(x=x, y=y, v=v) for v in answers)
    return RankItem(f"What is {x} + {y}?", cands), answers.index(right)
