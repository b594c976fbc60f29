"""Meta-RM guided voting: a scalar model rates each chain, the best-rated ones vote.

DeepSeek-GRM (Liu et al. 2025, "Inference-Time Scaling for Generalist Reward Modeling",
arXiv:2504.02495): a pointwise meta RM, trained with binary cross-entropy to predict whether
a sampled chain's judgment is right, scores the k chains; the top ``k_meta`` (k/2 by
default) are kept and voted over. Their 27B judge: voting@32 71.0 -> MetaRM@32 72.8.

This module holds what the judge side needs and nothing that loads a model: the text a meta
RM reads for a chain (:func:`meta_text`, shared with training so both see the same input),
the scorer :class:`ChainScorer` protocol (:class:`grm.inference.meta_rm.MetaRM` implements
it), rating chains in one batched call, the stopping rule's vote weights, and re-aggregating
finished results with :func:`grm.aggregation.meta_vote`.

Departure from the paper: with adaptive k the meta RM also rates each wave's chains, and the
stopping rule counts each vote with a weight from the meta RM (see :func:`vote_weights`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Protocol

from grm.aggregation import meta_vote
from grm.types import Chain, JudgeRequest, Result


class ChainScorer(Protocol):
    """Anything that maps meta-RM input texts to logits (higher: the chain is right)."""

    def score_texts(self, texts: Sequence[str]) -> list[float]: ...


def _letter(slot: int) -> str:
    return chr(ord("A") + slot)


def meta_text(request: JudgeRequest, chain: Chain) -> str:
    """The meta RM's input for one chain: the question, the responses in the order the chain
    saw them (labelled A, B, ...), the chain, and its final verdict in that labelling.

    The verdict line is written from the chain's judgment, so a forced verdict (read from
    next-token probabilities, absent from the text) is visible to the meta RM too.

    >>> from grm.types import Judgment
    >>> c = Chain("3 + 4 = 7, so B. [[B]]", (1, 0), Judgment(winner=0))
    >>> print(meta_text(JudgeRequest("3 + 4?", ("7", "8")), c))
    Question: 3 + 4?
    Response A: 8
    Response B: 7
    Judgment: 3 + 4 = 7, so B. [[B]]
    Verdict: B
    """
    lines = [f"Question: {request.prompt_str}"]
    slot_of = {orig: slot for slot, orig in enumerate(chain.order)}
    for slot, orig in enumerate(chain.order):
        lines.append(f"Response {_letter(slot)}: {request.responses[orig]}")
    lines.append(f"Judgment: {chain.text.strip()}")
    j = chain.judgment
    if j.winner is not None:
        verdict = _letter(slot_of[j.winner])
    elif j.scores is not None:
        verdict = ", ".join(f"{j.scores[orig]:g}" for orig in chain.order)
    else:
        verdict = "tie" if j.tie else "none"
    lines.append(f"Verdict: {verdict}")
    return "\n".join(lines)


def rate_chains(
    scorer: ChainScorer,
    requests: Sequence[JudgeRequest],
    chains: Sequence[Sequence[Chain]],
) -> list[list[Chain]]:
    """Fill ``meta_score`` on every chain that lacks one: ONE scorer call for the batch."""
    todo = [
        (i, j, meta_text(requests[i], c))
        for i, per in enumerate(chains)
        for j, c in enumerate(per)
        if c.meta_score is None
    ]
    out = [list(per) for per in chains]
    if not todo:
        return out
    scores = scorer.score_texts([t for _, _, t in todo])
    if len(scores) != len(todo):
        raise ValueError(
            f"the meta RM returned {len(scores)} scores for {len(todo)} chains; "
            "score_texts must return one logit per text."
        )
    for (i, j, _), s in zip(todo, scores, strict=True):
        out[i][j] = replace(out[i][j], meta_score=float(s))
    return out


def sigmoid(x: float) -> float:
    """``1 / (1 + exp(-x))`` without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def vote_weights(meta_scores: Sequence[float | None]) -> list[float]:
    """Stopping-rule vote weights from meta-RM logits: P(chain right), scaled to mean 1.

    The scaling keeps the total evidence at one vote per chain, so the stopping rules'
    thresholds (tuned for unit votes) keep their meaning; the meta RM only moves weight
    from chains it distrusts to chains it trusts. A chain without a score weighs 1.

    >>> [round(w, 3) for w in vote_weights([0.0, 0.0])]
    [1.0, 1.0]
    >>> [round(w, 3) for w in vote_weights([2.0, -2.0])]
    [1.762, 0.238]
    """
    probs = [0.5 if s is None else sigmoid(s) for s in meta_scores]
    if not probs:
        return []
    mean = sum(probs) / len(probs)
    return [p / mean for p in probs]


def apply_meta(
    results: Sequence[Result],
    requests: Sequence[JudgeRequest],
    scorer: ChainScorer,
    k_meta: int | None = None,
) -> list[Result]:
    """Rate every result's chains and re-aggregate each over its top ``k_meta`` chains.

    The vote uses the result's own aggregator on the kept chains, so ``winner``,
    ``probability``, ``votes``, ``ties`` and ``abstentions`` describe the kept chains, while
    ``k_used``, tokens, forced counts and position statistics still describe every chain
    sampled. A chain the scorer left unrated ranks last. The result reports
    ``k_meta`` (the kept count, at most ``k_used``), ``meta_kept`` and per-chain
    ``meta_score``; ``aggregator`` becomes ``meta_vote(<base>)``.
    """
    if len(results) != len(requests):
        raise ValueError(f"{len(results)} results for {len(requests)} requests.")
    rated = rate_chains(scorer, requests, [r.chains for r in results])
    out = []
    for r, req, chains in zip(results, requests, rated, strict=True):
        scores = [c.meta_score if c.meta_score is not None else -math.inf for c in chains]
        keep = None if k_meta is None else min(k_meta, max(len(chains), 1))
        agg, kept = meta_vote(
            [c.judgment for c in chains], len(req.responses), scores, keep, r.aggregator
        )
        out.append(
            replace(
                r,
                **asdict(agg),  # the outcome fields, now over the kept chains
                chains=tuple(chains),
                aggregator=f"meta_vote({r.aggregator})",
                k_meta=len(kept),
                meta_kept=kept,
            )
        )
    return out
