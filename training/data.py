"""Preference data in, judge prompts out: the loaders and the trainer-facing rows.

Loaders turn the common shapes into one row format (a JudgeRequest with the index of the
better response):

- ``pairs``: ``prompt`` / ``chosen`` / ``rejected`` (TRL's preference shape; strings or
  message lists, with the prompt implicit in the conversations when ``prompt`` is absent),
- ``rewardbench``: the same columns plus ``subset`` (RewardBench 1),
- ``judgebench``: ``question`` / ``response_A`` / ``response_B`` / ``label`` ("A>B", "B>A"),
- ``pointwise``: ``prompt`` / ``responses`` (any number) / ``scores`` or ``preferred``,
- ``rows``: rows already in grm's shape (``prompt``, ``responses``, ``preferred``).

Judge prompts are built with the inference templates (``Template.messages``), so a model is
trained on exactly the text :class:`grm.RewardModel` shows it; the tokenizer's chat template
is applied by the trainer. Orders are randomised per row, and ``both_orders`` puts the two
orders of a pair next to each other (same batch), as J1's swap-consistency reward needs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from grm.training.rationales import rationale
from grm.training.tasks import TaskRow

from grm.templates import Template, get_template
from grm.types import JudgeRequest, response_text

FORMATS = ("auto", "pairs", "rewardbench", "judgebench", "pointwise", "rows")


def _last_assistant(messages: Sequence[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    if not messages or messages[-1].get("role") != "assistant":
        raise ValueError(
            "a conversational chosen/rejected must end with an assistant message; "
            "pass a 'prompt' column and the responses alone instead."
        )
    return list(messages[:-1]), str(messages[-1].get("content", ""))


def detect_format(row: dict[str, Any]) -> str:
    """The shape of one row, from its columns."""
    if "responses" in row and "preferred" in row:
        return "rows"
    if "responses" in row:
        return "pointwise"
    if "response_A" in row and "label" in row:
        return "judgebench"
    if "chosen" in row and "rejected" in row:
        return "rewardbench" if "subset" in row else "pairs"
    raise ValueError(
        f"cannot tell the data format from the columns {sorted(row)}; expected prompt/chosen/"
        "rejected, question/response_A/response_B/label, or prompt/responses/scores."
    )


def to_row(row: dict[str, Any], fmt: str, rng: random.Random, index: int = 0) -> TaskRow:
    """One source row -> ``{prompt, responses, preferred, task}`` (chosen placed at random)."""
    fmt = detect_format(row) if fmt == "auto" else fmt
    if fmt in ("pairs", "rewardbench"):
        chosen, rejected = row["chosen"], row["rejected"]
        prompt = row.get("prompt")
        if prompt is None:
            prompt, chosen = _last_assistant(chosen)
            _, rejected = _last_assistant(rejected)
        responses = [response_text(chosen), response_text(rejected)]
        preferred = rng.randrange(2)
        if preferred == 1:
            responses.reverse()
        task = str(row.get("subset", fmt))
    elif fmt == "judgebench":
        label = str(row["label"]).replace(" ", "")
        if label not in ("A>B", "B>A"):
            raise ValueError(
                f"row {index}: label must be 'A>B' or 'B>A', got {row['label']!r}; drop ties."
            )
        prompt, responses = row["question"], [row["response_A"], row["response_B"]]
        preferred = 0 if label == "A>B" else 1
        task = str(row.get("source", "judgebench"))
    elif fmt == "pointwise":
        prompt, responses = row["prompt"], list(row["responses"])
        if "preferred" in row:
            preferred = int(row["preferred"])
        elif "scores" in row and len(row["scores"]) == len(responses):
            scores = [float(s) for s in row["scores"]]
            preferred = max(range(len(scores)), key=scores.__getitem__)
        else:
            raise ValueError(
                f"row {index}: a pointwise row needs 'scores' (one per response) or 'preferred'."
            )
        task = str(row.get("task", "pointwise"))
    elif fmt == "rows":
        prompt, responses, preferred = row["prompt"], list(row["responses"]), int(row["preferred"])
        task = str(row.get("task", "rows"))
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    try:
        request = JudgeRequest(prompt, tuple(responses))  # validates empty prompt / responses
    except ValueError as exc:
        raise ValueError(f"row {index}: {exc}") from None
    if not 0 <= preferred < len(request.responses):
        raise ValueError(f"row {index}: preferred={preferred} is not a response index.")
    out = dict(row) if fmt == "rows" else {}
    out.update(prompt=prompt, responses=list(request.responses), preferred=preferred, task=task)
    return out


def load_preferences(
    source: str | Path | Iterable[dict[str, Any]], fmt: str = "auto", seed: int = 0
) -> list[TaskRow]:
    """Rows from a JSONL file, a ``datasets.Dataset`` or any iterable of dicts.

    Pairs with a tie (JudgeBench ``A=B``) cannot be judged right or wrong and are skipped.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; pass a JSONL file of preferences.")
        with path.open() as f:
            items: Iterable[dict[str, Any]] = [json.loads(line) for line in f if line.strip()]
    else:
        items = source
    rng = random.Random(seed)
    rows = []
    for i, row in enumerate(items):
        if str(row.get("label", "")).replace(" ", "") in ("A=B", "tie"):
            continue
        rows.append(to_row(dict(row), fmt, rng, i))
    return rows


def request_of(row: TaskRow) -> JudgeRequest:
    return JudgeRequest(row["prompt"], tuple(row["responses"]), row.get("reference"))


def _orders(
    row: TaskRow, template: Template, rng: random.Random, both: bool
) -> list[tuple[int, ...]]:
    n = len(row["responses"])
    if n == 2:
        first = (0, 1) if rng.random() < 0.5 else (1, 0)
        return [first, first[::-1]] if both else [first]
    perm = list(range(n))
    rng.shuffle(perm)
    return [tuple(perm)]


def grpo_rows(
    rows: Sequence[TaskRow],
    template: str | Template = "default",
    both_orders: bool = False,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows for TRL's GRPOTrainer: a conversational ``prompt`` plus the reward columns.

    ``preferred_slot`` is where the better response is shown, ``order`` the response order,
    ``pair_id`` ties the two orders of one pair together (J1's swap-consistency reward).
    """
    tpl = get_template(template)
    rng = random.Random(seed)
    out = []
    for pid, row in enumerate(rows):
        req = request_of(row)
        for order in _orders(row, tpl, rng, both_orders):
            out.append(
                {
                    "prompt": tpl.messages(req, order),
                    "preferred_slot": list(order).index(row["preferred"]),
                    "order": list(order),
                    "pair_id": pid,
                    "task": row.get("task", ""),
                }
            )
    return out


def sft_rows(
    rows: Sequence[TaskRow],
    template: str | Template = "default",
    both_orders: bool = False,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Prompt-completion rows for TRL's SFTTrainer (conversational, loss on the completion).

    A row with a ``chain`` (from a stronger judge, in the ``order`` it was shown) keeps that
    chain; a verifiable task row gets a templated :func:`~grm.training.rationales.rationale`.
    """
    tpl = get_template(template)
    rng = random.Random(seed)
    out = []
    for row in rows:
        req = request_of(row)
        if "chain" in row:
            order = tuple(row.get("order") or range(len(row["responses"])))
            pairs = [(order, str(row["chain"]))]
        elif "check" in row:
            pairs = [(o, rationale(row, o, tpl)) for o in _orders(row, tpl, rng, both_orders)]
        else:
            raise ValueError(
                "an SFT row needs a 'chain' (from a stronger judge) or the facts of a "
                "verifiable task ('check', 'claims', 'ok'); generate tasks with make_tasks."
            )
        for order, chain in pairs:
            out.append(
                {
                    "prompt": tpl.messages(req, order),
                    "completion": [{"role": "assistant", "content": chain}],
                }
            )
    return out


def distill_rows(
    source: str | Path | Iterable[dict[str, Any]], template: str | Template = "default"
) -> list[TaskRow]:
    """Chains of a stronger judge for SFT, keeping those whose verdict is right.

    Each JSONL row holds ``prompt``, ``responses``, ``order`` (as shown), ``chain`` and
    ``preferred``; RM-R1 distils only the chains that reach the right verdict.
    """
    tpl = get_template(template)
    kept = []
    for i, row in enumerate(load_preferences(source, "rows")):
        if "chain" not in row:
            raise ValueError(f"row {i} has no 'chain'; distillation rows need the judge's text.")
        order = list(row.get("order") or range(len(row["responses"])))
        parsed = tpl.parse(str(row["chain"]), len(order))
        if (
            parsed is not None
            and parsed.winner is not None
            and order[parsed.winner] == row["preferred"]
        ):
            kept.append(row)
    return kept
