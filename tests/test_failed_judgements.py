"""No made-up rewards: a judgement that failed is never answered as if it were one.

An engine that fails in the middle of a request (its chains are sampled, then forcing their
verdicts fails: ``MidRequestFault``), and a judge whose every chain abstains, behind each
face: the HTTP routes answer 503 with the reason (OpenRLHF's client retries any non-2xx and
then drops the sample, ``openrlhf/utils/agent.py``), verl's scorers raise by default or give
the stated ``failure_value`` flagged ``grm_failed``, TRL's rewards give None (TRL leaves
None out of the loss). No path yields 0.5.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fake_engine import FakeEngine
from fault_engine import MidRequestFault, undecided
from served import fake_server

from grm import JudgeConfig, RewardModel
from grm.adapters import verl
from grm.adapters.trl import TurnReward, make_trl_reward

PAIR = {"prompt": "What is 2 + 2?", "responses": ["It is 4.", "5"], "k": 2}
SCORE = {"mode": "score", "prompt": "What is 2 + 2?", "responses": ["It is 4.", "4", "5"]}
BATCH = {"requests": [{"prompt": "2 + 2?", "responses": ["4", "5"]}] * 2, "k": 2}
REWARDS = [
    {"query": ["What is 2 + 2? It is 4."], "prompts": ["What is 2 + 2?"], "labels": ["4"]},
    {"query": ["What is 2 + 2? It is 4."], "prompts": ["What is 2 + 2?"], "labels": [None]},
]
VERL = {"data_source": "gsm8k", "solution_str": "It is 4.", "ground_truth": "4",
        "extra_info": {"question": "What is 2 + 2?"}, "k": 2, "retries": 0}  # fmt: skip


@pytest.fixture(scope="module")
def failing() -> Iterator[str]:
    with fake_server("--fail-mid") as url:
        yield url


@pytest.fixture(scope="module")
def abstaining() -> Iterator[str]:
    with fake_server("--abstain") as url:
        yield url


def _metric(url: str, reason: str, answer: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    key = f'grm_failed_judgements_total{{answer="{answer}",reason="{reason}"}}'
    lines = [line for line in text.splitlines() if line.startswith(key)]
    return float(lines[0].split()[-1]) if lines else 0.0


# --- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [("/judge", PAIR), ("/judge", SCORE), ("/judge_batch", BATCH)]
    + [("/get_reward", body) for body in REWARDS],
)
def test_an_engine_failure_mid_request_is_a_503_never_a_reward(
    failing: str, path: str, body: dict[str, Any]
) -> None:
    before = _metric(failing, "engine_error", "error")
    r = httpx.post(f"{failing}{path}", json=body, timeout=30)
    assert r.status_code == 503, r.text
    out = r.json()
    assert out["reason"] == "engine_error" and "after the chains were sampled" in out["detail"]
    assert not {"rewards", "probability", "results"} & set(out)
    assert _metric(failing, "engine_error", "error") == before + 1


def test_no_verdict_is_a_503_on_get_reward_and_reported_as_such_on_judge(
    abstaining: str,
) -> None:
    for body in REWARDS:
        r = httpx.post(f"{abstaining}/get_reward", json=body, timeout=30)
        assert r.status_code == 503 and r.json()["reason"] == "no_verdict", r.text
        assert "--on-abstain" in r.json()["detail"]
    assert _metric(abstaining, "no_verdict", "error") == 2
    # /judge reports the judgment as it is: no winner, no probability.
    out = httpx.post(f"{abstaining}/judge", json=PAIR, timeout=30).json()
    assert out["winner"] == "none" and out["probability"] is None and out["abstentions"] == 2


def test_a_stated_value_for_no_verdict_is_sent_and_counted() -> None:
    with fake_server("--abstain", "--on-abstain", "neutral") as url:
        r = httpx.post(f"{url}/get_reward", json=REWARDS[0], timeout=30)
        assert r.status_code == 200 and r.json()["rewards"] == [0.5]
        assert _metric(url, "no_verdict", "stated_value") == 1


# --- verl ------------------------------------------------------------------------------------


def test_verl_scorers_raise_on_a_failed_judgement(failing: str, abstaining: str) -> None:
    for url in (failing, abstaining):
        with pytest.raises(RuntimeError, match="503|abstained"):
            verl.compute_score(**VERL, url=url)
        with pytest.raises(RuntimeError, match="503|abstained"):
            verl.compute_score_float("gsm8k", "It is 4.", "4", None, url=url, retries=0)
        with pytest.raises(RuntimeError, match="503|abstained"):
            asyncio.run(verl.compute_score_async(**VERL, url=url))
        with pytest.raises(RuntimeError, match="503|abstained"):
            verl.compute_score_batch(
                ["gsm8k"] * 2, ["It is 4.", "It is 5."], ["4", "4"], None, url=url, retries=0
            )
    with pytest.raises(verl.JudgementFailed, match="every one of its 2 chains abstained"):
        verl.compute_score(**VERL, url=abstaining)


def test_verl_scorers_give_the_stated_value_flagged(failing: str, abstaining: str) -> None:
    policy = {"on_failure": "value", "failure_value": -1.0}
    flagged = {"score": -1.0, "grm_abstained": 0.0, "grm_k_used": 0.0, "grm_failed": 1.0}
    for url in (failing, abstaining):
        assert verl.compute_score(**VERL, url=url, **policy) == flagged
        assert asyncio.run(verl.compute_score_async(**VERL, url=url, **policy)) == flagged
        rows = verl.compute_score_batch(
            ["gsm8k"] * 2, ["It is 4.", ""], ["4", "4"], None, url=url, retries=0, **policy
        )
        assert rows[0] == flagged and rows[1]["grm_failed"] == 0.0  # empty: not judged
    with pytest.raises(ValueError, match="needs a finite failure_value"):
        verl.compute_score(**VERL, url=failing, on_failure="value")
    # A request's own fault is no judge failure: it raises under either policy.
    with pytest.raises(RuntimeError, match="422"):
        verl.compute_score(**{**VERL, "k": 10_000}, url=failing, **policy)


# --- TRL -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["pointwise", "reference", "pair", "group"])
def test_trl_rewards_are_none_when_the_engine_fails_mid_request(mode: str) -> None:
    engine = MidRequestFault()
    fn = make_trl_reward(RewardModel(engine), mode=mode, k=2)  # type: ignore[arg-type]
    prompts = ["2 + 2?", "2 + 2?"]
    completions = ["It is 4.", "It is 5."]
    logged: dict[str, float] = {}
    out = fn(prompts=prompts, completions=completions, reference=["4", "4"],
             log_metric=lambda name, value: logged.__setitem__(name, value))  # fmt: skip
    assert engine.failures >= 1  # the chains were sampled, then the engine failed
    assert out == [None, None]
    assert logged["grm/failed_rate"] == 1.0 and logged["grm/none_rate"] == 1.0


def test_trl_pair_mode_gives_none_when_every_chain_abstains() -> None:
    rm = RewardModel(FakeEngine(undecided), config=JudgeConfig(on_unparsed="abstain"))
    fn = make_trl_reward(rm, mode="pair", k=2)
    assert fn(prompts=["q", "q"], completions=["It is 4.", "It is 5."]) == [None, None]


def test_trl_turn_reward_is_none_when_the_engine_fails() -> None:
    turn = TurnReward(RewardModel(MidRequestFault()), k=2)
    assert turn(prompts=["hi"], completions=["hello"]) == [None]
