"""Preference data in, judge prompts out: the loaders and the trainer-facing rows.

Loaders turn every shape :mod:`grm.rows` reads into one row format (a JudgeRequest with the
index of the better response):

- ``pairs``: ``prompt`` / ``chosen`` / ``rejected`` (TRL's preference shape; strings or
  message lists, with the prompt implicit in the conversations when ``prompt`` is absent),
- ``rewardbench``: the same columns plus ``subset`` (RewardBench 1),
- ``hh-rlhf``: Anthropic HH-RLHF ``chosen`` / ``rejected`` transcripts (the conversation is
  the prompt, the two last assistant replies the responses),
- ``judgebench``: ``question`` / ``response_A`` / ``response_B`` / ``label`` ("A>B", "B>A"),
- ``pointwise``: ``prompt`` / ``responses`` (any number) / ``scores`` or ``preferred``,
- ``rows``: rows already in grm's shape (``prompt``, ``responses``, ``preferred``).

Judge prompts are built with the inference templates (``Template.messages``), so a model is
trained on exactly the text :class:`grm.RewardModel` shows it; the tokenizer's chat template
is applied by the trainer. Orders are randomised per row, and ``both_orders`` puts the two
orders of a pair next to each other (same batch), as J1's swap-consistency reward needs.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from grm.training.rationales import preference_rationale, rationale, rule_rationale
from grm.training.tasks import TaskRow

from grm.rows import FORMATS, RowError, check_format, detect_shape, place, read_row, read_rows
from grm.templates import Template, get_template
from grm.types import JudgeRequest

__all__ = [
    "FORMATS",
    "detect_format",
    "distill_rows",
    "grpo_rows",
    "load_preferences",
    "request_of",
    "sft_rows",
    "to_row",
]


def detect_format(row: dict[str, Any]) -> str:
    """The shape of one row, from its columns (:func:`grm.rows.detect_shape`)."""
    return detect_shape(row)


def to_row(row: dict[str, Any], fmt: str, rng: random.Random, index: int = 0) -> TaskRow:
    """One source row -> ``{prompt, responses, preferred, task}`` (chosen placed at random).

    Raises :class:`grm.rows.RowError` (a ValueError with a ``kind``) naming the row."""
    try:
        item = place(read_row(row, fmt, labelled=True), rng)
        request = item.request()
    except ValueError as exc:
        raise RowError(f"row {index}: {exc}", getattr(exc, "kind", "invalid")) from None
    assert item.preferred is not None  # labelled=True
    out = dict(row) if item.shape == "rows" else {}
    out.update(
        prompt=item.prompt,
        responses=list(request.responses),
        preferred=item.preferred,
        task=item.group or item.shape,
    )
    if item.reference is not None:
        out["reference"] = item.reference
    return out


def load_preferences(
    source: str | Path | Iterable[dict[str, Any]], fmt: str = "auto", seed: int = 0
) -> list[TaskRow]:
    """Rows from a JSONL / JSON / Parquet file, a ``datasets.Dataset`` or any iterable of
    dicts; raises on the first unusable row (:mod:`grm.training.user_data` reports them all).

    Pairs with a tie (JudgeBench ``A=B``) cannot be judged right or wrong and are skipped.
    """
    check_format(fmt)
    if isinstance(source, str | Path) and not Path(source).exists():
        raise FileNotFoundError(f"{source} does not exist; pass a JSONL file of preferences.")
    rng = random.Random(seed)
    rows = []
    for i, row in enumerate(read_rows(source)):
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
    chain_kind: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for TRL's GRPOTrainer: a conversational ``prompt`` plus the reward columns.

    ``preferred_slot`` is where the better response is shown, ``order`` the response order,
    ``pair_id`` ties the two orders of one pair together (J1's swap-consistency reward), and
    ``reference`` is the rule's chain for that order (:func:`rule_chain`, the ``verified``
    reward's), None for a pair with none (a labelled pair without ``chain_kind``, or one
    the rule gets wrong).
    """
    tpl = get_template(template)
    rng = random.Random(seed)
    out = []
    for pid, row in enumerate(rows):
        req = request_of(row)
        has_rule = "check" in row or chain_kind is not None
        for order in _orders(row, tpl, rng, both_orders):
            out.append(
                {
                    "prompt": tpl.messages(req, order),
                    "preferred_slot": list(order).index(row["preferred"]),
                    "order": list(order),
                    "pair_id": pid,
                    "task": row.get("task", ""),
                    "reference": rule_chain(row, order, tpl, chain_kind) if has_rule else None,
                }
            )
    return out


#: How :func:`sft_rows` writes chains for labelled pairs without one (None: it does not).
PREFERENCE_CHAINS = (None, "label", "rule")


def sft_rows(
    rows: Sequence[TaskRow],
    template: str | Template = "default",
    both_orders: bool = False,
    seed: int = 0,
    preference_chains: str | None = None,
) -> list[dict[str, Any]]:
    """Prompt-completion rows for TRL's SFTTrainer (conversational, loss on the completion).

    A row with a ``chain`` (from a stronger judge, in the ``order`` it was shown) keeps that
    chain; a verifiable task row gets a templated :func:`~grm.training.rationales.rationale`;
    a labelled pair with neither gets, with ``preference_chains="label"``, the lexical
    :func:`~grm.training.rationales.preference_rationale` (the label's verdict after the
    cues), or with ``"rule"`` the :func:`~grm.training.rationales.rule_rationale` (the
    verdict the stated cues give; the orders where that is not the label are left out).
    """
    if preference_chains not in PREFERENCE_CHAINS:
        raise ValueError(
            f"preference_chains must be one of {PREFERENCE_CHAINS}, got {preference_chains!r}."
        )
    tpl = get_template(template)
    rng = random.Random(seed)
    out = []
    for row in rows:
        req = request_of(row)
        if "chain" in row:
            order = tuple(row.get("order") or range(len(row["responses"])))
            pairs = [(order, str(row["chain"]))]
        else:
            chains = [
                (o, rule_chain(row, o, tpl, preference_chains))
                for o in _orders(row, tpl, rng, both_orders)
            ]
            pairs = [(o, c) for o, c in chains if c is not None]
        for order, chain in pairs:
            out.append(
                {
                    "prompt": tpl.messages(req, order),
                    "completion": [{"role": "assistant", "content": chain}],
                }
            )
    return out


def rule_chain(
    row: TaskRow,
    order: Sequence[int],
    template: str | Template = "default",
    preference_chains: str | None = None,
) -> str | None:
    """The chain :func:`sft_rows` writes for ``row`` shown in ``order`` (rules there), or
    None where ``"rule"`` has none for that order (the rule disagrees with the label).

    RFT's ``verify`` compares a sampled chain with it: every step of these chains is true of
    the pair, so a sampled chain equal to it reached its verdict by right steps.

    >>> from grm.training.tasks import addition_item
    >>> import random
    >>> rule_chain(addition_item(47, 38, random.Random(1)), (0, 1)).endswith("Final verdict: [[B]]")
    True
    """
    if "check" in row:
        return rationale(row, order, template)
    if preference_chains == "label" and "preferred" in row:
        return preference_rationale(row, order, template)
    if preference_chains == "rule" and "preferred" in row:
        return rule_rationale(row, order, template)
    raise ValueError(
        "an SFT row needs a 'chain' (from a stronger judge) or the facts of a "
        "verifiable task ('check', 'claims', 'ok'); generate tasks with make_tasks, or set "
        "preference_chains to 'rule' or 'label' for labelled pairs."
    )


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
