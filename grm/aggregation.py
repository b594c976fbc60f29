"""Aggregators: k judgments in, one outcome out. Pure functions in a name-keyed registry.

Ties and abstentions are counted in the outcome, never dropped silently. Probabilities are
posterior means under a uniform Beta(1, 1) prior on the vote share, so 1-0 is 2/3, not 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from grm.registry import Registry
from grm.types import Chain, Judgment


@dataclass(frozen=True)
class Aggregate:
    """The outcome of a set of judgments over ``n`` responses."""

    winner: int | None
    probability: float | None
    votes: tuple[int, ...]
    scores: tuple[float, ...] | None
    ties: int
    abstentions: int


Aggregator = Callable[[Sequence[Judgment], int], Aggregate]
AGGREGATORS: Registry[Aggregator] = Registry("aggregator")


def register_aggregator(name: str, replace: bool = False) -> Callable[[Aggregator], Aggregator]:
    return AGGREGATORS.register(name, replace=replace)


def aggregator_names() -> list[str]:
    return AGGREGATORS.names()


def get_aggregator(name: str) -> Aggregator:
    return AGGREGATORS.get(name)


def beta_mean(successes: float, failures: float) -> float:
    """Posterior mean of a rate under a Beta(1, 1) prior: ``(s + 1) / (s + f + 2)``."""
    return (successes + 1.0) / (successes + failures + 2.0)


def chain_winner(j: Judgment) -> int | None:
    """The response a judgment prefers: its verdict, or its strictly highest score."""
    if j.winner is not None:
        return j.winner
    if j.scores:
        top = max(j.scores)
        best = [i for i, s in enumerate(j.scores) if s == top]
        return best[0] if len(best) == 1 else None
    return None


def count_votes(judgments: Sequence[Judgment], n: int) -> tuple[list[int], int, int]:
    """Votes per response, ties (equal top scores or an explicit tie) and abstentions."""
    votes, ties, abstentions = weighted_count_votes(judgments, n, [1.0] * len(judgments))
    return [int(v) for v in votes], int(ties), abstentions


def _vote_outcome(votes: Sequence[float], ties: float) -> tuple[int | None, float | None]:
    """Winner (None on a tie at the top) and its probability, ties counted as half a vote."""
    n = len(votes)
    if n == 0 or sum(votes) + ties == 0:  # every chain abstained: no evidence, no probability
        return None, None
    top = max(votes)
    leaders = [i for i, v in enumerate(votes) if v == top]
    winner = leaders[0] if len(leaders) == 1 else None
    if n == 2:
        # Probability that response 0 is preferred; a tie is half a vote each (RewardBench).
        return winner, beta_mean(votes[0] + ties / 2, votes[1] + ties / 2)
    share = top + ties / n
    return winner, beta_mean(share, sum(votes) + ties - share)


@register_aggregator("majority")
def majority_vote(judgments: Sequence[Judgment], n: int) -> Aggregate:
    """Each chain votes for one response; the most votes wins, a tie at the top is a tie.

    >>> a = majority_vote([Judgment(winner=0), Judgment(winner=0), Judgment(winner=1)], 2)
    >>> a.winner, a.votes, round(a.probability, 3)
    (0, (2, 1), 0.6)
    """
    votes, ties, abstentions = count_votes(judgments, n)
    winner, p = _vote_outcome(votes, ties)
    return Aggregate(winner, p, tuple(votes), None, ties, abstentions)


def _score_matrix(judgments: Sequence[Judgment], n: int) -> list[tuple[float, ...]]:
    return [j.scores for j in judgments if j.scores is not None and len(j.scores) == n]


@register_aggregator("sum")
def sum_scores(judgments: Sequence[Judgment], n: int) -> Aggregate:
    """DeepSeek-GRM voting: per-response scores summed over chains; highest sum wins."""
    rows = _score_matrix(judgments, n)
    votes, ties, abstentions = count_votes(judgments, n)
    if not rows:
        return Aggregate(None, None, tuple(votes), None, ties, abstentions)
    totals = tuple(sum(col) for col in zip(*rows, strict=True))
    top = max(totals)
    leaders = [i for i, s in enumerate(totals) if s == top]
    _, p = _vote_outcome(votes, ties)
    winner = leaders[0] if len(leaders) == 1 else None
    return Aggregate(winner, p, tuple(votes), totals, ties, abstentions)


@register_aggregator("mean")
def mean_scores(judgments: Sequence[Judgment], n: int) -> Aggregate:
    """Per-response mean score over the chains that gave scores; highest mean wins."""
    summed = sum_scores(judgments, n)
    if summed.scores is None:
        return summed
    m = len(_score_matrix(judgments, n))
    means = tuple(s / m for s in summed.scores)
    return Aggregate(
        summed.winner, summed.probability, summed.votes, means, summed.ties, summed.abstentions
    )


@register_aggregator("prob_weighted")
def prob_weighted_vote(judgments: Sequence[Judgment], n: int) -> Aggregate:
    """Each pairwise chain votes with its verdict probability instead of 0/1.

    ``probability`` is the mean of P(response 0) over the chains that gave a verdict; chains
    without a read probability count as certain. Falls back to majority for n != 2.
    """
    if n != 2:
        return majority_vote(judgments, n)
    votes, ties, abstentions = count_votes(judgments, n)
    probs = []
    for j in judgments:
        if j.p_first is not None:
            probs.append(j.p_first)
        elif j.tie:
            probs.append(0.5)
        else:
            w = chain_winner(j)
            if w is not None:
                probs.append(1.0 if w == 0 else 0.0)
    if not probs:
        return Aggregate(None, None, tuple(votes), None, ties, abstentions)
    p = sum(probs) / len(probs)
    winner = None if p == 0.5 else (0 if p > 0.5 else 1)
    return Aggregate(winner, p, tuple(votes), None, ties, abstentions)


def position_stats(chains: Sequence[Chain]) -> tuple[float | None, float | None]:
    """Position consistency and first-slot rate of pairwise chains.

    Consistency is the chance that a chain shown (A, B) and a chain shown (B, A) prefer the
    same response: ``(a1*a2 + b1*b2) / (n1*n2)`` over chains with a verdict (MT-Bench's
    swap test, averaged over chain pairs). ``None`` when one order has no verdicts.
    The first-slot rate is the share of verdicts for whatever response was shown first.
    """
    per_order: dict[tuple[int, ...], list[int]] = {}
    first = total = 0
    for c in chains:
        w = chain_winner(c.judgment)
        if w is None or len(c.order) != 2:
            continue
        per_order.setdefault(c.order, [0, 0])[w] += 1
        total += 1
        first += int(c.order[0] == w)
    rate = first / total if total else None
    if len(per_order) != 2:
        return None, rate
    (a1, b1), (a2, b2) = per_order.values()
    n1, n2 = a1 + b1, a2 + b2
    return (a1 * a2 + b1 * b2) / (n1 * n2), rate


# ---------------------------------------------------------------- meta-RM guided voting
# DeepSeek-GRM (Liu et al. 2025, "Inference-Time Scaling for Generalist Reward Modeling",
# arXiv:2504.02495, Sec. 4.2): a pointwise meta RM rates each sampled chain; the k_meta
# best-rated chains (k/2 by default) are kept and voted over, the rest are dropped.


def default_k_meta(k: int) -> int:
    """DeepSeek-GRM's default: keep half of the chains (``k // 2``), at least one.

    >>> default_k_meta(32), default_k_meta(5), default_k_meta(1)
    (16, 2, 1)
    """
    return max(1, k // 2)


def top_k_meta(meta_scores: Sequence[float], k_meta: int) -> tuple[int, ...]:
    """Indices of the ``k_meta`` highest meta scores, in chain order (pure).

    Tie rule: among equal scores the earlier chain wins, so the choice is deterministic and
    does not depend on how a sort treats equal keys. A ``k_meta`` above the number of chains
    keeps them all. A NaN score ranks below every number.

    >>> top_k_meta([0.1, 0.9, 0.5, 0.9], 2)
    (1, 3)
    >>> top_k_meta([0.5, 0.5, 0.5], 2)
    (0, 1)
    """
    if not isinstance(k_meta, int) or isinstance(k_meta, bool) or k_meta < 1:
        raise ValueError(f"k_meta must be an integer >= 1, got {k_meta!r}; k // 2 is the usual.")

    def key(i: int) -> tuple[float, int]:
        s = meta_scores[i]
        return (-s if s == s else float("inf"), i)  # NaN != NaN: rank it last

    keep = sorted(range(len(meta_scores)), key=key)[:k_meta]
    return tuple(sorted(keep))


def weighted_count_votes(
    judgments: Sequence[Judgment], n: int, weights: Sequence[float]
) -> tuple[list[float], float, int]:
    """Votes per response with each chain counted ``weights[i]`` times (pure).

    Returns the weighted votes, the weighted ties and the abstentions (unweighted: an
    abstention is no evidence whatever its weight). :func:`count_votes` is the unit-weight case.

    >>> weighted_count_votes([Judgment(winner=0), Judgment(winner=1)], 2, [1.5, 0.5])
    ([1.5, 0.5], 0.0, 0)
    """
    if len(weights) != len(judgments):
        raise ValueError(
            f"weights has {len(weights)} entries for {len(judgments)} judgments; "
            "pass one weight per chain."
        )
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be >= 0, got {list(weights)}.")
    votes, ties, abstentions = [0.0] * n, 0.0, 0
    for j, w in zip(judgments, weights, strict=True):
        if j.abstained:
            abstentions += 1
            continue
        winner = chain_winner(j)
        if winner is None:
            ties += w
        else:
            votes[winner] += w
    return votes, ties, abstentions


def meta_vote(
    judgments: Sequence[Judgment],
    n: int,
    meta_scores: Sequence[float],
    k_meta: int | None = None,
    base: str = "majority",
) -> tuple[Aggregate, tuple[int, ...]]:
    """Meta-RM guided voting: aggregate only the ``k_meta`` best-rated chains (pure).

    ``base`` is the registered aggregator applied to the kept chains (``majority`` for
    verdicts; ``sum`` is DeepSeek-GRM's score voting). ``k_meta=None`` keeps
    :func:`default_k_meta` of the chains. Returns the outcome and the kept chain indices.

    >>> js = [Judgment(winner=1), Judgment(winner=0), Judgment(winner=0), Judgment(winner=1)]
    >>> agg, kept = meta_vote(js, 2, [0.9, 0.1, 0.2, 0.8])
    >>> kept, agg.winner, agg.votes
    ((0, 3), 1, (0, 2))
    """
    if len(meta_scores) != len(judgments):
        raise ValueError(
            f"meta_scores has {len(meta_scores)} entries for {len(judgments)} judgments; "
            "score every chain with the meta RM."
        )
    kept = top_k_meta(meta_scores, default_k_meta(len(judgments)) if k_meta is None else k_meta)
    return get_aggregator(base)([judgments[i] for i in kept], n), kept
