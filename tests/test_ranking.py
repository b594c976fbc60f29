"""Ranking: Bradley-Terry and Elo math, bracket logic, the methods on a scripted judge, and
the three methods on the real default model (shapes, comparisons, one engine call a round)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from fake_engine import FakeEngine
from grm.inference.base import Generation, GenRequest, SamplingConfig
from scipy.optimize import check_grad

from grm import JudgeConfig, RewardModel
from grm.ranking import (
    RankConfig,
    RankItem,
    bt_bootstrap,
    bt_fit,
    elo_ratings,
    get_group_reward,
    knockout_rounds,
    pair_round,
    reference_rewards,
    round_robin_pairs,
    win_matrix,
)
from grm.ranking.bracket import next_alive
from grm.ranking.bradley_terry import bt_objective

# --- Bradley-Terry -----------------------------------------------------------------------


def test_bt_two_players_matches_the_closed_form() -> None:
    t = bt_fit(np.array([[0.0, 3.0], [1.0, 0.0]]), l2=0.0)
    assert t[0] - t[1] == pytest.approx(np.log(3.0), abs=1e-4)
    assert t.sum() == pytest.approx(0.0, abs=1e-9)


def test_bt_transitive_set_recovers_the_order() -> None:
    # 0 > 1 > 2 > 3 > 4: each beats every later one 3 times out of 4.
    recs = [(i, j, 1.0) for i in range(5) for j in range(i + 1, 5) for _ in range(3)]
    recs += [(i, j, 0.0) for i in range(5) for j in range(i + 1, 5)]
    t = bt_fit(win_matrix(5, recs))
    assert list(np.argsort(-t)) == [0, 1, 2, 3, 4]


def test_bt_unbeaten_candidate_stays_finite_and_on_top() -> None:
    recs = [(0, j, 1.0) for j in (1, 2, 3)] + [(1, 2, 1.0), (2, 3, 0.5)]
    t = bt_fit(win_matrix(4, recs))
    assert np.all(np.isfinite(t)) and np.argmax(t) == 0 and t[0] < 10
    # Without the L2 term the unbeaten rating runs away.
    assert bt_fit(win_matrix(4, recs), l2=0.0)[0] > t[0] + 1


def test_bt_ties_are_half_a_win() -> None:
    all_ties = bt_fit(win_matrix(3, [(0, 1, 0.5), (1, 2, 0.5), (0, 2, 0.5)]))
    assert np.allclose(all_ties, 0.0, atol=1e-6)
    # A win and a loss equal two ties: the same ratings.
    split = bt_fit(win_matrix(2, [(0, 1, 1.0), (0, 1, 0.0)]))
    tied = bt_fit(win_matrix(2, [(0, 1, 0.5), (0, 1, 0.5)]))
    assert np.allclose(split, tied)
    assert win_matrix(2, [(0, 1, 0.5)]).tolist() == [[0.0, 0.5], [0.5, 0.0]]


def test_bt_gradient_is_exact() -> None:
    rng = np.random.default_rng(0)
    wins = rng.integers(0, 4, size=(4, 4)).astype(float)
    np.fill_diagonal(wins, 0)
    err = check_grad(
        lambda t: bt_objective(t, wins, 0.1)[0],
        lambda t: bt_objective(t, wins, 0.1)[1],
        rng.normal(size=4),
    )
    assert err < 1e-5


def test_bt_bootstrap_interval_contains_the_fit_and_narrows_with_data() -> None:
    few = [(0, 1, 1.0), (0, 1, 1.0), (0, 1, 0.0)]
    lo, hi = bt_bootstrap(2, few, samples=100)
    fit = bt_fit(win_matrix(2, few))
    assert np.all(lo <= fit + 1e-9) and np.all(fit <= hi + 1e-9)
    lo2, hi2 = bt_bootstrap(2, few * 10, samples=100)
    assert (hi2 - lo2)[0] < (hi - lo)[0]


def test_elo_orders_a_transitive_set_and_is_seeded() -> None:
    recs = [(i, j, 1.0) for i in range(4) for j in range(i + 1, 4) for _ in range(3)]
    r = elo_ratings(4, recs)
    assert list(np.argsort(-r)) == [0, 1, 2, 3]
    assert np.allclose(r, elo_ratings(4, recs)) and abs(r.sum()) < 1e-9


@pytest.mark.parametrize(
    ("records", "message"), [([(0, 0, 1.0)], "bad pair"), ([(0, 1, 2.0)], "in \\[0, 1\\]")]
)
def test_bad_records_name_the_problem(records: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        win_matrix(2, records)


# --- Bracket logic -----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 9, 13])
def test_knockout_plays_n_minus_1_games_in_ceil_log2_rounds(n: int) -> None:
    alive, had_bye, games, rounds = list(range(n)), set(), 0, 0
    while len(alive) > 1:
        pairs, bye = pair_round(alive, had_bye)
        assert bye is None or bye not in had_bye or all(c in had_bye for c in alive)
        if bye is not None:
            had_bye.add(bye)
        played = [c for p in pairs for c in p] + ([bye] if bye is not None else [])
        assert sorted(played) == sorted(alive)  # everyone plays or has the bye, once
        alive = next_alive(pairs, [min(p) for p in pairs], bye)
        games, rounds = games + len(pairs), rounds + 1
    assert games == n - 1 and rounds == knockout_rounds(n)
    assert alive == [0]


def test_odd_bracket_never_gives_the_same_candidate_two_byes() -> None:
    # 5 candidates: 5 -> 2 games + a bye -> 3 -> 1 game + a bye -> 2 -> 1.
    alive, had_bye, byes = [0, 1, 2, 3, 4], set(), []
    while len(alive) > 1:
        pairs, bye = pair_round(alive, had_bye)
        if bye is not None:
            byes.append(bye)
            had_bye.add(bye)
        alive = next_alive(pairs, [max(p) for p in pairs], bye)
    assert len(byes) == 2 and len(set(byes)) == 2


def test_round_robin_subset_is_connected_and_sized() -> None:
    pairs = round_robin_pairs(8, max_pairs=12, seed=3)
    assert len(pairs) == 12 and len(set(pairs)) == 12
    seen, frontier = {0}, [0]
    while frontier:
        c = frontier.pop()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x == c and y not in seen:
                    seen.add(y)
                    frontier.append(y)
    assert seen == set(range(8))
    assert len(round_robin_pairs(5)) == 10
    with pytest.raises(ValueError, match="max_pairs=3"):
        round_robin_pairs(8, max_pairs=3)


# --- Methods on a scripted judge ---------------------------------------------------------


def _slot(prompt: str, slot: str) -> str:
    m = re.search(rf"<response_{slot}>\n(.*?)\n</response_{slot}>", prompt, re.S)
    assert m, prompt
    return m.group(1)


def bigger_wins(prompt: str, i: int) -> str:
    """A judge that prefers the larger number; pointwise scores are the numbers."""
    slots = re.findall(r"<response_(\d+)>\n(.*?)\n</response_\d+>", prompt, re.S)
    if slots:
        return "Final Scores: [[" + ", ".join(t for _, t in slots) + "]]"
    a, b = int(_slot(prompt, "A")), int(_slot(prompt, "B"))
    return f"Final verdict: [[{'A' if a > b else 'B'}]]"


CANDS = ["3", "9", "1", "7", "5"]  # best first: 9 (1), 7 (3), 5 (4), 3 (0), 1 (2)


@pytest.mark.parametrize("method", ["pointwise", "knockout", "round_robin"])
def test_every_method_finds_the_best_with_a_correct_judge(method: str) -> None:
    engine = FakeEngine(bigger_wins)
    cfg = RankConfig(bootstrap=10)
    r = RewardModel(engine).rank("Pick the biggest number.", CANDS, method=method, k=2, config=cfg)
    assert r.best == 1 and len(r.scores) == len(r.order) == len(r.win_rate) == 5
    assert sorted(r.order) == list(range(5))
    if method != "knockout":  # a knockout only orders the winner fully
        assert r.order == (1, 3, 4, 0, 2)
    expect = {"pointwise": 1, "knockout": 3, "round_robin": 1}[method]
    assert sum(c[0] == "generate" for c in engine.calls) == expect == r.rounds
    assert r.chains == 2 * max(r.comparisons, 1)


def test_knockout_makes_n_minus_1_comparisons_and_batches_groups() -> None:
    engine = FakeEngine(bigger_wins)
    items = [RankItem(f"q{g}", tuple(CANDS)) for g in range(3)]
    ranks = RewardModel(engine).rank_batch(items, method="knockout", k=2)
    assert all(r.comparisons == 4 and r.rounds == 3 and r.best == 1 for r in ranks)
    assert [c for c in engine.calls if c[0] == "generate"] == [
        ("generate", 3 * 2 * 2),
        ("generate", 3 * 1 * 2),
        ("generate", 3 * 1 * 2),
    ]


def test_round_robin_ratings_with_intervals_and_elo() -> None:
    rm = RewardModel(FakeEngine(bigger_wins))
    r = rm.rank("q", CANDS, method="round_robin", k=2, config=RankConfig(bootstrap=50))
    assert r.comparisons == 10 and r.ci is not None
    assert all(lo <= s <= hi for s, (lo, hi) in zip(r.scores, r.ci, strict=True))
    assert r.win_rate[1] == 1.0 and r.win_rate[2] == 0.0
    elo = rm.rank("q", CANDS, method="round_robin", k=2, config=RankConfig(rating="elo"))
    assert elo.order == r.order and elo.ci is None
    sub = rm.rank(
        "q", CANDS, method="round_robin", k=2, config=RankConfig(max_pairs=6, bootstrap=0)
    )
    assert sub.comparisons == 6


def test_first_slot_judge_ties_go_to_a_seeded_coin() -> None:
    rm = RewardModel(FakeEngine(lambda p, i: "Final verdict: [[A]]"))
    a = rm.rank("q", CANDS, method="knockout", k=2)
    b = rm.rank("q", CANDS, method="knockout", k=2)
    assert a.tiebreaks == 4 and a.order == b.order  # every game is a 1-1 split


def test_group_rewards_and_reference_rewards() -> None:
    rm = RewardModel(FakeEngine(bigger_wins))
    r = rm.rank("q", CANDS, method="round_robin", k=2, config=RankConfig(bootstrap=0))
    assert get_group_reward("win_rate")(r) == [0.25, 1.0, 0.0, 0.75, 0.5]
    centred = get_group_reward("rating")(r)
    assert abs(sum(centred)) < 1e-9 and np.argmax(centred) == 1
    assert get_group_reward("rank")(r) == [0.25, 1.0, 0.0, 0.75, 0.5]
    rewards, results = reference_rewards(rm, ["q", "q"], ["9", "1"], ["5", "5"], k=4)
    assert rewards[0] > 0.5 > rewards[1] and len(results) == 2
    with pytest.raises(ValueError, match="same length"):
        reference_rewards(rm, ["q"], ["9", "1"], ["5"])


def test_all_abstaining_reference_comparison_is_none() -> None:
    rm = RewardModel(FakeEngine(lambda p, i: "no verdict"))
    rewards, _ = reference_rewards(rm, ["q"], ["9"], ["5"], k=2, on_unparsed="abstain")
    assert rewards == [None]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rating": "glicko"}, "rating must be"),
        ({"max_pairs": 0}, "max_pairs must be"),
        ({"l2": -1}, "l2 must be"),
        ({"ci_level": 1.5}, "ci_level must be"),
        ({"pointwise_aggregator": "nope"}, "aggregator 'nope' is unknown"),
    ],
)
def test_rank_config_validates(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RankConfig(**kwargs)


def test_bad_rank_input_names_the_field() -> None:
    rm = RewardModel(FakeEngine(bigger_wins))
    with pytest.raises(ValueError, match="ranking method 'swiss' is unknown"):
        rm.rank("q", CANDS, method="swiss")
    with pytest.raises(ValueError, match=r"candidates\[1\] is empty"):
        rm.rank("q", ["1", " "], method="knockout")


# --- The real default model --------------------------------------------------------------


class CountingEngine:
    """Forwards everything to a real engine and counts its generate calls."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.generate_calls: list[int] = []

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        self.generate_calls.append(len(requests))
        return self._engine.generate(requests, sampling)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "comparisons", "rounds"),
    [("pointwise", 0, 1), ("knockout", 4, 3), ("round_robin", 10, 1)],
)
def test_default_model_ranks_five_candidates(
    tf_engine: Any, method: str, comparisons: int, rounds: int
) -> None:
    engine = CountingEngine(tf_engine)
    rm = RewardModel(engine, config=JudgeConfig(max_tokens=4))  # type: ignore[arg-type]
    cands = ["12", "15", "14", "The answer is 14.", "41"]
    r = rm.rank("What is 9 + 5?", cands, method=method, k=1, config=RankConfig(bootstrap=20))
    assert len(r.scores) == len(r.win_rate) == 5 and sorted(r.order) == list(range(5))
    assert r.comparisons == comparisons and r.rounds == rounds
    assert len(engine.generate_calls) == rounds  # one engine call per round
    assert r.chains == max(comparisons, 1) and r.completion_tokens > 0
    assert all(np.isfinite(r.scores))
