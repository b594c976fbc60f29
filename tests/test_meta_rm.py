"""Meta-RM guided voting (DeepSeek-GRM): selection math, weighted votes, the judge wiring,
the training-data helpers, and one real meta RM trained for a few steps and used in compare.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from fake_engine import FakeEngine
from grm.calibration.metrics import roc_auc

from grm import JudgeConfig, JudgeRequest, RewardModel
from grm.aggregation import (
    count_votes,
    default_k_meta,
    majority_vote,
    meta_vote,
    sum_scores,
    top_k_meta,
    weighted_count_votes,
)
from grm.meta import meta_text, vote_weights
from grm.stopping import decide
from grm.types import Chain, Judgment

A, B = Judgment(winner=0), Judgment(winner=1)

# ---------------------------------------------------------------- selection and votes


@pytest.mark.parametrize(
    ("scores", "k_meta", "kept"),
    [
        ([0.1, 0.9, 0.5, 0.7], 2, (1, 3)),  # the two best, reported in chain order
        ([3.0, 1.0, 2.0], 1, (0,)),
        ([0.5, 0.5, 0.5, 0.5], 2, (0, 1)),  # all tied: the earliest chains
        ([0.2, 0.8, 0.8, 0.8], 2, (1, 2)),  # tie at the cut: earlier chain wins
        ([0.9, 0.1], 5, (0, 1)),  # k_meta above the chain count keeps all
        ([float("nan"), 0.0, -1.0], 2, (1, 2)),  # NaN ranks below every number
        ([-math.inf, -5.0], 1, (1,)),
        ([], 3, ()),
    ],
)
def test_top_k_meta(scores: list[float], k_meta: int, kept: tuple[int, ...]) -> None:
    assert top_k_meta(scores, k_meta) == kept


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, None])
def test_top_k_meta_rejects_bad_k_meta(bad: object) -> None:
    with pytest.raises(ValueError, match="k_meta must be an integer >= 1"):
        top_k_meta([0.1, 0.2], bad)  # type: ignore[arg-type]


def test_default_k_meta_is_half_rounded_down_at_least_one() -> None:
    assert [default_k_meta(k) for k in (1, 2, 3, 4, 8, 16, 32)] == [1, 1, 1, 2, 4, 8, 16]


def test_meta_vote_votes_over_the_kept_chains_only() -> None:
    judgments = [B, B, A, B, A]  # majority says B
    scores = [0.1, -1.0, 2.0, 0.0, 1.5]  # the meta RM trusts the A chains
    agg, kept = meta_vote(judgments, 2, scores, k_meta=2)
    assert kept == (2, 4) and agg.winner == 0 and agg.votes == (2, 0)
    assert majority_vote(judgments, 2).winner == 1


def test_meta_vote_default_keeps_half_and_a_tie_stays_a_tie() -> None:
    agg, kept = meta_vote([A, B, A, B], 2, [1.0, 1.0, 0.0, 0.0])
    assert kept == (0, 1) and agg.winner is None and agg.votes == (1, 1)


def test_meta_vote_with_score_base_sums_the_kept_scores() -> None:
    js = [Judgment(scores=s) for s in ((10.0, 1.0), (10.0, 1.0), (2.0, 8.0), (3.0, 7.0))]
    agg, kept = meta_vote(js, 2, [0.0, 0.0, 1.0, 2.0], k_meta=2, base="sum")
    assert kept == (2, 3) and agg.scores == (5.0, 15.0) and agg.winner == 1
    assert sum_scores(js, 2).winner == 0  # summed over all four chains: 25 against 17


def test_meta_vote_needs_one_score_per_chain() -> None:
    with pytest.raises(ValueError, match="meta_scores has 1 entries for 2 judgments"):
        meta_vote([A, B], 2, [0.5])


def test_weighted_votes_with_unit_weights_equal_plain_counts() -> None:
    js = [A, B, A, Judgment(tie=True), Judgment()]
    votes, ties, abstentions = weighted_count_votes(js, 2, [1.0] * 5)
    assert (votes, ties, abstentions) == ([2.0, 1.0], 1.0, 1)
    assert count_votes(js, 2) == ([2, 1], 1, 1)


def test_weighted_votes_weight_votes_and_ties_but_not_abstentions() -> None:
    js = [A, B, Judgment(tie=True), Judgment()]
    assert weighted_count_votes(js, 2, [0.5, 2.0, 0.25, 3.0]) == ([0.5, 2.0], 0.25, 1)


@pytest.mark.parametrize(
    ("weights", "message"),
    [([1.0], "weights has 1 entries for 2 judgments"), ([1.0, -0.1], "weights must be >= 0")],
)
def test_weighted_votes_reject_bad_weights(weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        weighted_count_votes([A, B], 2, weights)


def test_vote_weights_have_mean_one_and_follow_the_scores() -> None:
    w = vote_weights([3.0, 0.0, -3.0, None])
    assert sum(w) / len(w) == pytest.approx(1.0)
    assert w[0] > w[1] == w[3] > w[2]
    assert vote_weights([]) == []


def test_stopping_rule_counts_weighted_votes() -> None:
    js = [A, A, A, B]
    assert decide("beta", js, 2, 0.95, 16) == decide("beta", js, 2, 0.95, 16, [1.0] * 4)
    assert not decide("beta", js, 2, 0.95, 16).stop  # 3-1 is not settled
    trusted = vote_weights([4.0, 4.0, 4.0, -4.0])  # the meta RM distrusts the lone B
    assert decide("beta", js, 2, 0.95, 16, trusted).stop


# ---------------------------------------------------------------- config and meta input


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"k_meta": 0}, "k_meta must be an integer >= 1"),
        ({"k_meta": 9, "k": 8}, "k_meta=9 exceeds the 8 chains sampled"),
        ({"k_meta": 17, "k": "auto", "max_k": 16}, "raise max_k"),
    ],
)
def test_config_rejects_bad_k_meta(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JudgeConfig(**kw)  # type: ignore[arg-type]


def test_meta_text_shows_the_chains_order_and_its_verdict_even_when_forced() -> None:
    req = JudgeRequest("What is 2 + 2?", ("4", "5"))
    forced = Chain("2 + 2 = 4 and", (1, 0), Judgment(winner=0, p_first=0.7), forced=True)
    text = meta_text(req, forced)
    assert "Response A: 5\nResponse B: 4" in text
    assert text.endswith("Judgment: 2 + 2 = 4 and\nVerdict: B")
    assert meta_text(req, Chain("...", (0, 1), Judgment())).endswith("Verdict: none")


# ---------------------------------------------------------------- the judge wiring


def _slot(prompt: str, slot: str) -> str:
    m = re.search(rf"<response_{slot}>\n(.*?)\n</response_{slot}>", prompt, re.S)
    assert m, prompt
    return m.group(1)


def three_wrong_one_right(prompt: str, i: int) -> str:
    """Per order, chain 0 is right and sure; the others guess the wrong answer."""
    right = "A" if _slot(prompt, "A") == "42" else "B"
    wrong = "B" if right == "A" else "A"
    if i == 0 and right == "A":
        return f"sure: 17 + 25 = 42. Final verdict: [[{right}]]"
    return f"guess. Final verdict: [[{wrong}]]"


def three_right_one_wrong(prompt: str, i: int) -> str:
    right = "A" if _slot(prompt, "A") == "42" else "B"
    wrong = "B" if right == "A" else "A"
    if i == 1 and right == "A":
        return f"guess. Final verdict: [[{wrong}]]"
    return f"sure: 17 + 25 = 42. Final verdict: [[{right}]]"


class TrustSure:
    """A scripted meta RM: +4 for a chain that says 'sure', -4 otherwise."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        self.calls.append(len(texts))
        return [4.0 if "Judgment: sure" in t else -4.0 for t in texts]


def test_compare_votes_over_the_top_k_meta_chains() -> None:
    scorer = TrustSure()
    rm = RewardModel(FakeEngine(three_wrong_one_right), meta_rm=scorer)
    plain = RewardModel(FakeEngine(three_wrong_one_right)).compare("17 + 25?", "42", "43", k=4)
    assert plain.label == "B" and plain.votes == (1, 3)

    r = rm.compare("17 + 25?", "42", "43", k=4, k_meta=1)
    sure = [i for i, c in enumerate(r.chains) if c.text.startswith("sure")]
    assert r.label == "A" and r.votes == (1, 0)
    assert r.k_meta == 1 and r.meta_kept == tuple(sure)
    assert r.meta_scores == tuple(4.0 if c.text.startswith("sure") else -4.0 for c in r.chains)
    assert r.aggregator == "meta_vote(majority)"
    assert r.k_used == 4 and len(r.chains) == 4 and r.position_consistency is not None
    assert scorer.calls == [4]  # every chain rated in one call

    half = rm.compare("17 + 25?", "42", "43", k=4)  # default k_meta = 2: one sure, one guess
    assert half.k_meta == 2 and half.label == "tie" and half.votes == (1, 1)
    first_guess = min(i for i, c in enumerate(half.chains) if c.text.startswith("guess"))
    assert half.meta_kept == tuple(sorted((sure[0], first_guess)))
    assert half.summary()["k_meta"] == 2 and len(half.summary()["meta_scores"]) == 4


def test_compare_batch_rates_every_request_in_one_call() -> None:
    scorer = TrustSure()
    rm = RewardModel(FakeEngine(three_right_one_wrong), meta_rm=scorer)
    results = rm.compare_batch([{"prompt": "17 + 25?", "a": "42", "b": "43"}] * 3, k=4)
    assert scorer.calls == [12]
    assert all(r.label == "A" and r.k_meta == 2 and r.votes == (2, 0) for r in results)


def test_auto_k_feeds_the_meta_scores_to_the_stopping_rule() -> None:
    plain = RewardModel(FakeEngine(three_right_one_wrong)).compare(
        "17 + 25?", "42", "43", k="auto", max_k=16
    )
    assert plain.k_used == 12 and plain.stopped_by == "beta"  # 3-1, 6-2 unsettled; 9-3 stops
    scorer = TrustSure()
    meta = RewardModel(FakeEngine(three_right_one_wrong), meta_rm=scorer).compare(
        "17 + 25?", "42", "43", k="auto", max_k=16
    )
    assert meta.k_used == 4 and meta.stopped_by == "beta"  # the distrusted vote barely counts
    assert meta.k_meta == 2 and meta.label == "A"
    assert scorer.calls == [4]  # rated once, during the wave; not again at the end


def test_without_a_meta_rm_results_are_unchanged() -> None:
    r = RewardModel(FakeEngine(three_right_one_wrong)).compare("17 + 25?", "42", "43", k=4)
    assert r.k_meta is None and r.meta_kept == () and r.meta_scores == (None,) * 4
    assert r.aggregator == "majority" and r.summary()["meta_scores"] is None


# ---------------------------------------------------------------- training-data helpers


def _examples(labels_per_pair: list[list[int]]) -> list[object]:
    from grm.training.meta_data import MetaExample

    return [
        MetaExample(f"pair {p} chain {c}", y, p)
        for p, labels in enumerate(labels_per_pair)
        for c, y in enumerate(labels)
    ]


def test_label_chains_drops_abstentions_and_ties_and_keeps_forced_verdicts() -> None:
    from grm.training.meta_data import label_chains

    req = JudgeRequest("17 + 25?", ("42", "43"))
    result = RewardModel(FakeEngine(three_right_one_wrong)).compare_batch([req], k=4)[0]
    from dataclasses import replace

    chains = (
        *result.chains[:2],
        replace(result.chains[2], judgment=Judgment()),  # abstained
        replace(result.chains[3], judgment=Judgment(tie=True)),
        Chain("cut", (0, 1), Judgment(winner=1, p_first=0.4), forced=True),
    )
    examples = label_chains([req], [replace(result, chains=chains)], preferred=[0])
    assert len(examples) == 3
    assert [e.label for e in examples] == [
        int(c.judgment.winner == 0) for c in (chains[0], chains[1])
    ] + [0]
    assert examples[-1].forced and examples[-1].text.endswith("Verdict: B")


def test_split_keeps_pairs_whole_and_both_sides_non_empty() -> None:
    from grm.training.meta_data import split_by_pair

    ex = _examples([[1, 0, 1]] * 10)
    train, held = split_by_pair(ex, 0.2, seed=3)  # type: ignore[arg-type]
    assert {e.pair for e in train}.isdisjoint({e.pair for e in held})
    assert len({e.pair for e in held}) == 2 and len(train) + len(held) == 30
    assert split_by_pair(ex, 0.2, seed=3) == (train, held)  # type: ignore[arg-type]
    one, two = split_by_pair(_examples([[1], [0]]), 0.9)  # type: ignore[arg-type]
    assert len(one) == 1 and len(two) == 1


def test_balance_classes_equalises_and_keeps_order() -> None:
    from grm.training.meta_data import balance_classes

    ex = _examples([[1, 1, 1, 0], [1, 1, 0, 1]])
    kept = balance_classes(ex, seed=0)  # type: ignore[arg-type]
    assert sum(e.label for e in kept) == 2 and len(kept) == 4
    assert kept == [e for e in ex if e in kept]
    only = _examples([[1, 1]])
    assert balance_classes(only) == only  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "labels", "auc"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),
        ([-2.0, 3.0, 1.0], [0, 1, 0], 1.0),  # logits are fine
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
    ],
)
def test_roc_auc(scores: list[float], labels: list[int], auc: float) -> None:
    assert roc_auc(scores, labels) == pytest.approx(auc)


def test_roc_auc_is_nan_for_one_class_and_rejects_bad_input() -> None:
    assert math.isnan(roc_auc([0.1, 0.2], [1, 1]))
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        roc_auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="same length"):
        roc_auc([0.1], [0, 1])


def test_train_config_names_the_bad_field() -> None:
    from grm.training.meta_rm import MetaRMTrainConfig

    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        MetaRMTrainConfig(k=0)
    with pytest.raises(ValueError, match="eval_fraction must be in"):
        MetaRMTrainConfig(eval_fraction=1.0)
    with pytest.raises(ValueError, match=r"trainer sets \['max_steps'\]"):
        MetaRMTrainConfig(trainer={"max_steps": 3})


def test_cli_rejects_a_missing_meta_rm_and_pointwise_use(tmp_path: Path) -> None:
    grm = [sys.executable, "-m", "grm.cli", "judge", "--prompt", "q", "-r", "a", "-r", "b"]
    out = subprocess.run(
        [*grm, "--meta-rm", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "meta RM directory" in out.stderr
    out = subprocess.run(
        [*grm, "-r", "c", "--meta-rm", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2 and "--meta-rm rates pairwise verdicts" in out.stderr


# ---------------------------------------------------------------- a real meta RM


@pytest.mark.slow
def test_train_a_meta_rm_and_vote_with_it_in_compare(
    tmp_path: Path, default_model_path: Path
) -> None:
    """A few BCE steps on the default model's own chains, then meta-RM voting in compare."""
    from grm.inference.meta_rm import MetaRM
    from grm.training.meta_rm import META_RM_FILE, MetaRMTrainConfig, run

    cfg = MetaRMTrainConfig(
        judge=str(default_model_path),
        engine="transformers",
        output_dir=str(tmp_path / "meta"),
        n_pairs=3,
        k=2,
        max_tokens=12,  # cut chains: the verdicts are forced, both labels occur
        eval_fraction=0.34,
        max_steps=2,
        batch_size=4,
        max_length=256,
        trainable_layers=1,
        torch_threads=1,
    )
    path, report = run(cfg)
    assert report["chains"] == 6 and report["chains_forced"] > 0
    assert report["train_chains"] > 0 and report["held_out_chains"] > 0
    assert 0.0 <= report["held_out"]["auc"] <= 1.0 and report["train_loss"] > 0
    saved = json.loads((path / META_RM_FILE).read_text())
    assert saved["held_out"]["auc"] == report["held_out"]["auc"]

    with RewardModel.load(
        str(default_model_path),
        engine="transformers",
        meta_rm=path,
        meta_rm_options={"threads": 1},
    ) as rm:
        r = rm.compare("What is 12 + 30?", "42", "43", k=4, max_tokens=12, temperature=1.0)
        one = rm.compare("What is 12 + 30?", "42", "43", k=2, max_tokens=8, k_meta=1)
        scorer = rm.meta_rm
        assert isinstance(scorer, MetaRM)
        texts = [meta_text(JudgeRequest("What is 12 + 30?", ("42", "43")), c) for c in r.chains]
        rescored = scorer.score_texts(texts)
    scores = r.meta_scores
    assert len(scores) == 4 and all(isinstance(s, float) for s in scores)
    assert r.k_meta == 2 and r.meta_kept == top_k_meta([float(s) for s in scores], 2)  # type: ignore[arg-type]
    kept = majority_vote([r.chains[i].judgment for i in r.meta_kept], 2)
    assert (r.winner, r.votes) == (kept.winner, kept.votes)
    assert rescored == pytest.approx(list(scores), abs=1e-4)  # deterministic scores
    assert one.k_meta == 1 and len(one.meta_kept) == 1 and sum(one.votes) + one.ties <= 1
