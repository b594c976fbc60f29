"""Which chains a rejection-sampling round keeps, and what it reports: the pure part of
:mod:`grm.training.rft` (no model, no files), shared with :mod:`grm.training.difficulty`.

The rules are the ones :mod:`grm.training.rft`'s docstring lists: only a chain's own right
verdict is kept, pairs all right (no signal) or all wrong (nothing to keep) are dropped,
``agree_orders`` keeps only pairs right by majority in both response orders (J1's swap
consistency), and at most ``per_order`` chains per order keep the data position-balanced.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grm.training.tasks import TaskRow


@dataclass(frozen=True)
class SampledChain:
    """One sampled chain as a round stores it: the order shown, the text, its own verdict
    (an original response index, 'tie', or None for no verdict of its own)."""

    order: tuple[int, ...]
    text: str
    winner: int | str | None


def pair_stats(chains: Sequence[SampledChain], preferred: int) -> dict[str, Any]:
    """Right counts per first-shown response and overall.

    >>> c = [SampledChain((0, 1), "x", 0), SampledChain((1, 0), "y", 1)]
    >>> pair_stats(c, 0)["right"], pair_stats(c, 0)["by_order"]
    (1, {'0,1': [1, 1], '1,0': [0, 1]})
    """
    by_order: dict[str, list[int]] = {}
    right = 0
    for c in chains:
        key = ",".join(map(str, c.order))
        ok = int(c.winner == preferred)
        right += ok
        slot = by_order.setdefault(key, [0, 0])
        slot[0] += ok
        slot[1] += 1
    return {"right": right, "n": len(chains), "by_order": by_order}


def same_steps(text: str, reference: str | None) -> bool:
    """Whether a sampled chain states exactly the reference chain (whitespace aside).

    >>> same_steps("7 + 8 = 15.  Final verdict: [[B]]", "7 + 8 = 15. Final verdict: [[B]]")
    True
    >>> same_steps("7 + 8 = 16. Final verdict: [[B]]", "7 + 8 = 15. Final verdict: [[B]]")
    False
    """
    return reference is not None and text.split() == reference.split()


def is_right(
    c: SampledChain, preferred: int, reference: Mapping[tuple[int, ...], str | None] | None = None
) -> bool:
    """A chain's own verdict is right and, given ``reference`` (the rule's chain per response
    order), it states that chain's steps too (:func:`same_steps`).

    >>> c = SampledChain((0, 1), "a", 0)
    >>> is_right(c, 0), is_right(c, 0, {(0, 1): "a"}), is_right(c, 0, {(0, 1): "b"})
    (True, True, False)
    """
    return c.winner == preferred and (
        reference is None or same_steps(c.text, reference.get(c.order))
    )


def references(
    cfg: Any, row: TaskRow, chains: Sequence[SampledChain]
) -> dict[tuple[int, ...], str | None]:
    """The rule's chain for each response order sampled for ``row`` (``rft.verify``,
    ``difficulty.verify``)."""
    from grm.training.data import rule_chain

    return {c.order: rule_chain(row, c.order, cfg.template, cfg.chain_kind) for c in chains}


def select_chains(
    chains: Sequence[SampledChain],
    preferred: int,
    per_order: int = 1,
    agree_orders: bool = False,
    drop_all_right: bool = True,
    reference: Mapping[tuple[int, ...], str | None] | None = None,
) -> list[SampledChain]:
    """The right chains a round keeps from one pair (rules in the module docstring).

    With ``reference`` (the rule's chain per response order), a chain is right only when its
    verdict is right *and* it states the reference's steps (:func:`same_steps`): on a two-way
    verdict a chain that guesses is right half the time, so a right verdict alone is weak
    evidence of right reasoning (Lightman et al. 2023 judge chains by their steps).

    >>> right = [SampledChain((0, 1), "a", 0), SampledChain((1, 0), "b", 0)]
    >>> wrong = [SampledChain((0, 1), "c", 1), SampledChain((1, 0), "d", None)]
    >>> [c.text for c in select_chains(right + wrong, 0)]
    ['a', 'b']
    >>> select_chains(right, 0)  # all right: no signal
    []
    >>> select_chains(right + wrong[:1], 0, agree_orders=True)  # order (0, 1) splits 1-1
    []
    >>> [c.text for c in select_chains(right, 0, reference={(0, 1): "a", (1, 0): "x"})]
    ['a']
    """
    if reference is not None:  # a right verdict by other steps counts as no verdict
        chains = [
            c if is_right(c, preferred, reference) else SampledChain(c.order, c.text, None)
            for c in chains
        ]
    stats = pair_stats(chains, preferred)
    if stats["right"] == 0 or (drop_all_right and stats["right"] == stats["n"]):
        return []
    if agree_orders and any(2 * ok <= n for ok, n in stats["by_order"].values()):
        return []
    kept: list[SampledChain] = []
    taken: dict[tuple[int, ...], int] = {}
    for c in chains:
        if c.winner == preferred and taken.get(c.order, 0) < per_order:
            taken[c.order] = taken.get(c.order, 0) + 1
            kept.append(c)
    return kept


def rejected_for(
    chains: Sequence[SampledChain],
    kept: Sequence[SampledChain],
    preferred: int,
    reference: Mapping[tuple[int, ...], str | None] | None = None,
) -> list[tuple[SampledChain, SampledChain]]:
    """Preference pairs of one pair's chains for a DPO round: each kept chain with a chain of
    the same response order (the same prompt) that is not right, a wrong verdict first, then
    (with ``reference``) a right verdict reached by other steps; a kept chain with no such
    chain in its order is left out. Iterative RPO (Pang et al. 2024) pairs a model's right
    and wrong chains of one question this way.

    >>> ok, bad = SampledChain((0, 1), "ok", 0), SampledChain((0, 1), "bad", 1)
    >>> [(a.text, b.text) for a, b in rejected_for([ok, bad], [ok], 0)]
    [('ok', 'bad')]
    >>> rejected_for([ok, SampledChain((1, 0), "other order", 1)], [ok], 0)
    []
    """
    out = []
    for k in kept:
        others = [c for c in chains if c.order == k.order and not is_right(c, preferred, reference)]
        others.sort(key=lambda c: c.winner == preferred)  # wrong verdicts first (stable)
        if others:
            out.append((k, others[0]))
    return out


def mix_rows(rows: Sequence[TaskRow], n: int, seed: int = 0) -> list[TaskRow]:
    """``n`` of ``rows`` for the SFT mix, drawn without replacement while they last.

    >>> rows = [{"id": i} for i in range(3)]
    >>> sorted(r["id"] for r in mix_rows(rows, 2))
    [1, 2]
    >>> len(mix_rows(rows, 5)), mix_rows(rows, 0)
    (5, [])
    """
    rng = random.Random(seed)
    out: list[TaskRow] = []
    while len(out) < n and rows:
        out += rng.sample(list(rows), min(len(rows), n - len(out)))
    return out


def round_log(
    samples: Sequence[tuple[TaskRow, Sequence[SampledChain]]],
    kept: int,
    pairs_kept: int,
    verified: int | None = None,
) -> dict[str, Any]:
    """What a round reports about its sampling: pairs, chain accuracy, own-verdict rate,
    kept rate, the share of pairs by how many of their chains were right, and, given the
    count of ``verified`` chains (right verdict and the rule's steps), their share.

    >>> row = {"preferred": 0}
    >>> log = round_log([(row, [SampledChain((0, 1), "a", 0), SampledChain((1, 0), "b", 1)])], 1, 1)
    >>> log["chain_accuracy"], log["kept_rate"], log["pairs_mixed"]
    (0.5, 0.5, 1)
    """
    rights = [(pair_stats(c, row["preferred"])["right"], len(c)) for row, c in samples]
    n_chains = sum(n for _, n in rights)
    right = sum(ok for ok, _ in rights)
    own = sum(c.winner is not None for _, chains in samples for c in chains)
    all_right = sum(ok == n for ok, n in rights if n)
    none_right = sum(ok == 0 for ok, _ in rights)
    out: dict[str, Any] = {
        "pairs": len(samples),
        "chains": n_chains,
        "chain_accuracy": right / n_chains if n_chains else float("nan"),
        "own_verdict_rate": own / n_chains if n_chains else float("nan"),
        "pairs_all_right": all_right,
        "pairs_none_right": none_right,
        "pairs_mixed": len(samples) - all_right - none_right,
        "pairs_kept": pairs_kept,
        "kept_chains": kept,
        "kept_rate": kept / n_chains if n_chains else float("nan"),
    }
    if verified is not None:
        out["verified_chains"] = verified
        out["verified_accuracy"] = verified / n_chains if n_chains else float("nan")
    return out
