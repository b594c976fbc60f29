"""Stopping rules for adaptive k: pure functions over the chains so far, in a registry.

A rule looks at the judgments a request has collected and says whether more chains are
worth sampling. Every rule returns a :class:`Decision` with ``stop`` and ``settled``, a
number in [0, 1] saying how settled the outcome is; the batch-budget allocator spends
chains on the least-settled requests first.

Abstentions and ties are handled the same way in every rule, explicitly:

- an **abstention** (a chain with no verdict, even after forcing) is no evidence either way;
  it is skipped, so a request whose chains keep abstaining runs to ``max_k``;
- a **tie** (equal top scores, or an explicit tie verdict) is half a vote for each of the
  top two responses, as RewardBench scores a tie as 0.5. In the ESC window rule a tie is its
  own outcome, so a window holding a tie is not unanimous.

Rules, with the papers behind them:

- ``beta``: Adaptive-Consistency (Aggarwal et al., EMNLP 2023, "Let's Sample Step by Step"):
  with v1 and v2 the top-two vote counts, stop when
  ``P(p1 > p2) = 1 - I_0.5(v1 + 1, v2 + 1) >= confidence`` (a uniform Beta prior on the
  leader's share). At 0.95 it stops at 4-0, 6-1, 8-2 and not at 3-0 or 7-2.
- ``sprt``: Wald's sequential probability ratio test (Wald 1945), H_A "the leader wins a
  chain with p = 0.7" against H_B "p = 0.3", error rates alpha = beta = 1 - confidence.
- ``entropy``: ESC, early-stopping self-consistency (Li et al., ICLR 2024): stop when the
  most recent window of verdicts has zero entropy (all agree). The window is the smallest w
  with ``0.5 ** (w - 1) <= 1 - confidence`` (a fair coin's chance of a unanimous window).
- ``score_diff``: pointwise scores. Per chain, d = score(leader) - score(runner-up), the two
  responses with the highest mean scores. Stop when the Student-t posterior of the mean
  difference puts ``P(mean d > 0) >= confidence``; the standard deviation is floored at one
  score point so two identical chains do not look certain.
- ``curtail``: deterministic curtailment (as in group-sequential trials): stop once the
  chains left before ``max_k`` cannot change the majority winner. Loses nothing against
  fixed k = max_k.
- ``bayes``: Bayes-optimal stopping under the judge's vote prior (:mod:`grm.vote_prior`):
  stop when the chains left before ``max_k``, at ``(1 - confidence) / max_k`` accuracy a
  chain, are worth less than they cost. It alone also stops where more chains would not
  change the accuracy (a request the judge gets right about half the time). ``StopContext.
  prior`` is the judge's prior (a card's ``vote_prior``); None: the default prior.
- ``fixed``: never stops early; every request runs to ``max_k``.

Chain weights: a :class:`StopContext` may carry one weight per chain (a meta RM's rating,
see :mod:`grm.meta`). The vote-count rules (``beta``, ``sprt``, ``curtail``, ``fixed``) then
count each chain's vote ``weight`` times, as does ``bayes``; ``entropy`` and ``score_diff``
ignore weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from grm.aggregation import chain_winner, weighted_count_votes
from grm.registry import Registry
from grm.types import Judgment
from grm.vote_prior import DEFAULT_PRIOR, bayes_stop

#: SPRT alternative: the chance a chain votes for the better response under H_A.
SPRT_P1 = 0.7
#: score_diff: smallest standard deviation of per-chain score differences (score points).
SCORE_SD_FLOOR = 1.0


@dataclass(frozen=True)
class Decision:
    """A stopping rule's verdict on one request after some chains."""

    stop: bool
    """Whether to stop sampling this request."""
    settled: float
    """How settled the outcome is, in [0, 1]; budgets go to the least settled first."""


@dataclass(frozen=True)
class StopContext:
    """What a rule may know besides the judgments."""

    confidence: float = 0.95
    """Target probability that the current leader is the winner."""
    max_k: int = 16
    """The cap on chains for the request (``curtail`` needs it)."""
    weights: tuple[float, ...] | None = None
    """One vote weight per judgment (mean 1 keeps the rules' calibration); None: all 1."""
    prior: tuple[float, ...] | None = None
    """``bayes``: the judge's vote prior (:func:`grm.vote_prior.prior_from`); None: the
    default prior."""


StoppingRule = Callable[[Sequence[Judgment], int, StopContext], Decision]
STOPPING_RULES: Registry[StoppingRule] = Registry("stopping rule")


def register_stopping_rule(
    name: str, replace: bool = False
) -> Callable[[StoppingRule], StoppingRule]:
    return STOPPING_RULES.register(name, replace=replace)


def stopping_rule_names() -> list[str]:
    return STOPPING_RULES.names()


def get_stopping_rule(name: str) -> StoppingRule:
    return STOPPING_RULES.get(name)


# ---------------------------------------------------------------- pure math on counts


def top_two(votes: Sequence[float], ties: float = 0) -> tuple[float, float]:
    """Leader and runner-up vote counts, each tie adding half a vote to both.

    >>> top_two([3, 1], ties=2)
    (4.0, 2.0)
    """
    ordered = sorted(votes, reverse=True) + [0, 0]
    return ordered[0] + ties / 2, ordered[1] + ties / 2


def beta_confidence(v1: float, v2: float) -> float:
    """Adaptive-Consistency's ``P(p1 > p2) = 1 - I_0.5(v1 + 1, v2 + 1)``.

    The leader's share p1 has posterior Beta(v1 + 1, v2 + 1) under a uniform prior, and
    ``I_x`` is the regularised incomplete beta function (its CDF).

    >>> round(beta_confidence(4, 0), 4), round(beta_confidence(3, 0), 4)
    (0.9688, 0.9375)
    """
    from scipy import special  # imported here: scipy costs most of `import grm`

    return float(1.0 - special.betainc(v1 + 1.0, v2 + 1.0, 0.5))


def sprt_llr(v1: float, v2: float, p1: float = SPRT_P1) -> float:
    """Log-likelihood ratio of H_A (leader wins a chain with p1) to H_B (with 1 - p1).

    Each vote for the leader adds ``log(p1 / (1 - p1))``, each against subtracts it:
    ``LLR = (v1 - v2) * log(p1 / (1 - p1))``.
    """
    return (v1 - v2) * math.log(p1 / (1.0 - p1))


def sprt_threshold(confidence: float) -> float:
    """Wald's upper boundary ``log((1 - beta) / alpha)`` with alpha = beta = 1 - confidence."""
    alpha = 1.0 - confidence
    return math.log((1.0 - alpha) / alpha)


def esc_window(confidence: float) -> int:
    """Smallest window w with ``0.5 ** (w - 1) <= 1 - confidence``.

    ``0.5 ** (w - 1)`` is the chance that w fair-coin verdicts all agree.

    >>> esc_window(0.95)
    6
    """
    return max(2, 1 + math.ceil(math.log2(1.0 / (1.0 - confidence)) - 1e-12))


def entropy(labels: Sequence[object]) -> float:
    """Shannon entropy in bits of the empirical distribution of ``labels``: -sum p log2 p."""
    if not labels:
        return 0.0
    counts: dict[object, int] = {}
    for x in labels:
        counts[x] = counts.get(x, 0) + 1
    n = len(labels)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) + 0.0


def diff_confidence(diffs: Sequence[float], sd_floor: float = SCORE_SD_FLOOR) -> float:
    """Posterior ``P(mean difference > 0)`` under a Student-t model of the differences.

    With m differences, mean d and sample standard deviation s (floored at ``sd_floor``),
    the mean's posterior under a flat prior is ``d + s / sqrt(m) * t_(m-1)``, so
    ``P = F_t(d * sqrt(m) / s; m - 1)``. Fewer than two differences give 0.5 (no evidence).
    """
    m = len(diffs)
    if m < 2:
        return 0.5
    mean = sum(diffs) / m
    var = sum((d - mean) ** 2 for d in diffs) / (m - 1)
    sd = max(math.sqrt(var), sd_floor)
    from scipy import stats

    return float(stats.t.cdf(mean * math.sqrt(m) / sd, df=m - 1))


def verdict_sequence(judgments: Sequence[Judgment]) -> list[object]:
    """Each non-abstaining chain's outcome in order: the winner's index, or 'tie'."""
    out: list[object] = []
    for j in judgments:
        if j.abstained:
            continue
        w = chain_winner(j)
        out.append("tie" if w is None else w)
    return out


def score_differences(judgments: Sequence[Judgment], n: int) -> list[float]:
    """Per chain, score(leader) - score(runner-up); leader and runner-up by mean score.

    Chains without scores (pairwise verdicts) give +1 for a vote for response 0, -1 for
    response 1 and 0 for a tie, so the rule also applies to pairwise chains.
    """
    rows = [j.scores for j in judgments if j.scores is not None and len(j.scores) == n]
    if rows and n >= 2:
        means = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
        lead, second = sorted(range(n), key=lambda i: -means[i])[:2]
        return [r[lead] - r[second] for r in rows]
    diffs = []
    for label in verdict_sequence(judgments):
        diffs.append(0.0 if label == "tie" else (1.0 if label == 0 else -1.0))
    if diffs and sum(diffs) < 0:
        diffs = [-d for d in diffs]  # differences are taken leader minus runner-up
    return diffs


def _votes(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> tuple[list[float], float]:
    """Votes and ties, weighted by ``ctx.weights`` when the context carries them."""
    weights = ctx.weights if ctx.weights is not None else [1.0] * len(judgments)
    votes, ties, _ = weighted_count_votes(judgments, n, weights)
    return votes, ties


# ---------------------------------------------------------------- the registered rules


@register_stopping_rule("beta")
def beta_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """Adaptive-Consistency Beta rule (Aggarwal et al. 2023)."""
    votes, ties = _votes(judgments, n, ctx)
    p = beta_confidence(*top_two(votes, ties))
    return Decision(p >= ctx.confidence, p)


@register_stopping_rule("sprt")
def sprt_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """Wald's SPRT; both boundaries decide, since either hypothesis names a leader."""
    votes, ties = _votes(judgments, n, ctx)
    llr = abs(sprt_llr(*top_two(votes, ties)))
    bound = sprt_threshold(ctx.confidence)
    return Decision(llr >= bound, min(llr / bound, 1.0))


@register_stopping_rule("entropy")
def entropy_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """ESC (Li et al. 2024): the last window of verdicts is unanimous (entropy 0)."""
    labels = verdict_sequence(judgments)
    if not labels:
        return Decision(False, 0.0)
    w = esc_window(ctx.confidence)
    window = labels[-w:]
    h = entropy(window)
    full = len(window) >= w
    # Settledness: how much of a unanimous window is already there.
    run = 0
    for x in reversed(labels):
        if x != labels[-1] or x == "tie":
            break
        run += 1
    return Decision(full and h == 0.0 and labels[-1] != "tie", min(run / w, 1.0))


@register_stopping_rule("score_diff")
def score_diff_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """Pointwise: the sign of the leader's mean score advantage is settled."""
    p = diff_confidence(score_differences(judgments, n))
    return Decision(p >= ctx.confidence, p)


@register_stopping_rule("curtail")
def curtail_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """Stop once the chains left before ``max_k`` cannot change the majority winner."""
    votes, ties = _votes(judgments, n, ctx)
    v1, v2 = top_two(votes, ties)
    left = max(ctx.max_k - len(judgments), 0)
    margin = v1 - v2
    return Decision(margin > left, min(margin / max(left, 1), 1.0) if left else 1.0)


@register_stopping_rule("bayes")
def bayes_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """Bayes-optimal stopping under the judge's vote prior (:mod:`grm.vote_prior`)."""
    votes, ties = _votes(judgments, n, ctx)
    v1, v2 = top_two(votes, ties)
    left = max(ctx.max_k - len(judgments), 0)
    prior = ctx.prior if ctx.prior is not None else DEFAULT_PRIOR
    stop, now = bayes_stop(v1, v2, left, prior, (1.0 - ctx.confidence) / ctx.max_k)
    return Decision(stop, now)


@register_stopping_rule("fixed")
def fixed_rule(judgments: Sequence[Judgment], n: int, ctx: StopContext) -> Decision:
    """Never stop early: run to ``max_k`` (settledness is still the Beta confidence)."""
    votes, ties = _votes(judgments, n, ctx)
    return Decision(False, beta_confidence(*top_two(votes, ties)))


def decide(
    rule: str,
    judgments: Sequence[Judgment],
    n: int,
    confidence: float,
    max_k: int,
    weights: Sequence[float] | None = None,
    prior: tuple[float, ...] | None = None,
) -> Decision:
    """Apply a registered rule by name; ``weights`` (one per judgment) weight the votes;
    ``prior`` is the judge's vote prior (the ``bayes`` rule's)."""
    ctx = StopContext(confidence, max_k, None if weights is None else tuple(weights), prior)
    return get_stopping_rule(rule)(judgments, n, ctx)
