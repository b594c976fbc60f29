"""Aggregators and position statistics on small hand-computed lists."""

from __future__ import annotations

import pytest

from grm.aggregation import (
    aggregator_names,
    beta_mean,
    get_aggregator,
    majority_vote,
    mean_scores,
    position_stats,
    prob_weighted_vote,
    sum_scores,
)
from grm.types import Chain, Judgment

W0, W1, ABSTAIN = Judgment(winner=0), Judgment(winner=1), Judgment()


def test_registry_lists_the_builtins() -> None:
    assert {"majority", "mean", "sum", "prob_weighted"} <= set(aggregator_names())
    with pytest.raises(ValueError, match="choose one of"):
        get_aggregator("median-of-means")


def test_beta_mean() -> None:
    assert beta_mean(0, 0) == 0.5
    assert beta_mean(1, 0) == pytest.approx(2 / 3)
    assert beta_mean(8, 0) == pytest.approx(0.9)


def test_majority_counts_abstentions_and_ties() -> None:
    a = majority_vote([W0, W0, W1, ABSTAIN, Judgment(scores=(5.0, 5.0))], 2)
    assert a.votes == (2, 1) and a.abstentions == 1 and a.ties == 1 and a.winner == 0
    # a tie counts half a vote each way: (2.5 + 1) / (4 + 2)
    assert a.probability == pytest.approx(3.5 / 6)


def test_majority_tie_at_the_top_has_no_winner() -> None:
    a = majority_vote([W0, W1], 2)
    assert a.winner is None and a.probability == 0.5


def test_all_abstain_gives_no_probability() -> None:
    a = majority_vote([ABSTAIN, ABSTAIN], 2)
    assert a.winner is None and a.probability is None and a.abstentions == 2


def test_sum_and_mean_scores() -> None:
    js = [Judgment(scores=(8.0, 3.0, 5.0)), Judgment(scores=(6.0, 7.0, 5.0)), ABSTAIN]
    s = sum_scores(js, 3)
    assert s.scores == (14.0, 10.0, 10.0) and s.winner == 0 and s.abstentions == 1
    assert s.votes == (1, 1, 0)
    m = mean_scores(js, 3)
    assert m.scores == (7.0, 5.0, 5.0) and m.winner == 0


def test_sum_scores_tie_at_top() -> None:
    s = sum_scores([Judgment(scores=(8.0, 3.0)), Judgment(scores=(3.0, 8.0))], 2)
    assert s.winner is None and s.scores == (11.0, 11.0)


def test_prob_weighted_uses_verdict_probabilities() -> None:
    js = [Judgment(winner=0, p_first=0.9), Judgment(winner=1, p_first=0.45), W1]
    a = prob_weighted_vote(js, 2)
    # (0.9 + 0.45 + 0.0) / 3 = 0.45: a narrow B, though the majority is B by 2-1 too
    assert a.probability == pytest.approx(0.45) and a.winner == 1


def chain(order: tuple[int, int], winner: int | None) -> Chain:
    return Chain("", order, Judgment(winner=winner))


def test_position_stats_first_slot_judge() -> None:
    chains = [chain((0, 1), 0), chain((0, 1), 0), chain((1, 0), 1), chain((1, 0), 1)]
    consistency, first = position_stats(chains)
    assert consistency == 0.0 and first == 1.0


def test_position_stats_consistent_judge() -> None:
    chains = [chain((0, 1), 1), chain((1, 0), 1), chain((0, 1), 1), chain((1, 0), 0)]
    consistency, first = position_stats(chains)
    # order (0,1): B,B; order (1,0): B,A -> (0*1 + 2*1) / (2*2)
    assert consistency == pytest.approx(0.5)
    assert first == pytest.approx(0.25)  # only the (1, 0) chain that picked 1 chose slot A


def test_position_stats_one_order_only() -> None:
    consistency, first = position_stats([chain((0, 1), 0), chain((0, 1), None)])
    assert consistency is None and first == 1.0
