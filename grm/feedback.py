"""Directive feedback: the critique text that explains a verdict and says how to fix it.

A score says how good a response is; the critique says what is wrong and how to fix it
(the "directive" half of feedback). Each template extracts a chain's critique
(:meth:`grm.templates.Template.critique`); :func:`select_feedback` picks the one a result
reports, from a chain that agrees with the final verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grm.types import Chain


def _agreement(chain: Chain, winner: int | None, scores: Sequence[float] | None) -> float:
    """How far a chain is from the final verdict: 0 agrees; larger is further."""
    j = chain.judgment
    if scores is not None and j.scores is not None and len(j.scores) == len(scores):
        # Pointwise: L1 distance to the aggregated scores (closest = most representative).
        return sum(abs(a - b) for a, b in zip(j.scores, scores, strict=True))
    if winner is None:
        return 0.0 if j.tie else 1.0
    return 0.0 if j.winner == winner else float("inf")


def select_feedback(
    chains: Sequence[Chain], winner: int | None, scores: Sequence[float] | None = None
) -> str | None:
    """The critique of the chain that best agrees with the final verdict.

    Pairwise: a chain whose winner is the result's winner; pointwise: the chain whose scores
    are closest to the aggregated ones. Among equals, a chain that finished on its own (not
    forced, not cut at the thinking budget) is preferred, then one that saw the responses in
    the caller's order (its "Response A" is the caller's first response; a position-balanced
    chain shown (B, A) names them the other way round), then the earliest. None when no
    agreeing chain has a critique.

    >>> from grm.types import Chain, Judgment
    >>> a = Chain("x", (0, 1), Judgment(winner=1), critique="B is wrong: 2+2 is 4.")
    >>> b = Chain("y", (0, 1), Judgment(winner=0), critique="A states 4; correct.")
    >>> select_feedback([a, b], winner=0)
    'A states 4; correct.'
    >>> swapped = Chain("z", (1, 0), Judgment(winner=0), critique="B states 4; correct.")
    >>> select_feedback([swapped, b], winner=0)
    'A states 4; correct.'
    """
    best: tuple[float, int, int, int] | None = None
    pick: str | None = None
    for i, chain in enumerate(chains):
        text = (chain.critique or "").strip()
        if not text:
            continue
        distance = _agreement(chain, winner, scores)
        if distance == float("inf"):
            continue
        reordered = int(list(chain.order) != sorted(chain.order))
        key = (distance, int(chain.forced or chain.budget_hit), reordered, i)
        if best is None or key < best:
            best, pick = key, text
    return pick
