"""The real default model through both engines: exactly k chains, both orders, valid results.

The transformers engine is the reference; vLLM must parse to valid judgments on the same
requests. Greedy decoding must agree between the two on the first tokens.
"""

from __future__ import annotations

import pytest
from grm.inference import Engine, GenRequest, SamplingConfig

from grm import JudgeRequest, RewardModel

pytestmark = pytest.mark.slow

REQUESTS = [
    JudgeRequest("What is 17 + 25?", ("17 + 25 = 42.", "17 + 25 = 43.")),
    JudgeRequest("Name the capital of France.", ("Paris.", "Lyon.")),
    JudgeRequest([{"role": "user", "content": "What is 9 x 7?"}], ("63", "56"), reference="63"),
]


def check_results(rm: RewardModel, k: int) -> None:
    results = rm.compare_batch(REQUESTS, k=k, max_tokens=48)
    assert len(results) == len(REQUESTS)
    for r in results:
        assert r.k_used == k == len(r.chains)
        orders = [c.order for c in r.chains]
        assert orders.count((0, 1)) == orders.count((1, 0)) == k // 2
        # forced verdicts make every chain a judgment: none abstains, all are counted
        assert sum(r.votes) + r.ties + r.abstentions == k
        assert r.abstentions == 0
        assert r.probability is not None and 0.0 < r.probability < 1.0
        assert r.position_consistency is not None and 0.0 <= r.position_consistency <= 1.0
        assert r.prompt_tokens > 0 and r.completion_tokens > 0 and r.seconds > 0
        for c in r.chains:
            assert c.completion_tokens <= 48
            # a forced read with equal log-probs (both choices under the top-k floor) ties
            assert c.judgment.winner in (0, 1) or (c.forced and c.judgment.tie)
            if c.forced:
                assert c.judgment.p_first is not None


def check_generate_contract(engine: Engine) -> None:
    prompts = [engine.render_chat([{"role": "user", "content": f"Count to {i}."}]) for i in (3, 5)]
    gens = engine.generate(
        [GenRequest(prompts[0], 3), GenRequest(prompts[1], 2)],
        SamplingConfig(temperature=0.8, max_tokens=16, seed=1),
    )
    assert [len(g.completions) for g in gens] == [3, 2]
    for g in gens:
        assert g.prompt_tokens > 0
        for c in g.completions:
            assert 1 <= c.tokens <= 16
            assert c.finish_reason in ("stop", "length")
    # greedy decoding with n > 1 gives n copies of one chain (transformers alone refuses it)
    (g,) = engine.generate(
        [GenRequest(prompts[0], 2)], SamplingConfig(temperature=0.0, max_tokens=8)
    )
    assert len(g.completions) == 2 and g.completions[0].text == g.completions[1].text


def test_transformers_engine_contract(tf_engine: Engine) -> None:
    check_generate_contract(tf_engine)


def test_transformers_judge_end_to_end(tf_engine: Engine) -> None:
    check_results(RewardModel(tf_engine), k=4)


def test_transformers_same_seed_same_chains(tf_engine: Engine) -> None:
    rm = RewardModel(tf_engine)
    a = rm.compare("What is 2 + 2?", "4", "5", k=2, max_tokens=24, seed=3)
    b = rm.compare("What is 2 + 2?", "4", "5", k=2, max_tokens=24, seed=3)
    assert [c.text for c in a.chains] == [c.text for c in b.chains]


def test_transformers_seed_is_used(tf_engine: Engine) -> None:
    rm = RewardModel(tf_engine)
    a = rm.compare("Write a word.", "cat", "dog", k=2, max_tokens=24, seed=3, temperature=1.0)
    b = rm.compare("Write a word.", "cat", "dog", k=2, max_tokens=24, seed=4, temperature=1.0)
    assert [c.text for c in a.chains] != [c.text for c in b.chains]


def test_a_trl_reward_leaves_the_trainers_rng_state_alone(tf_engine: Engine) -> None:
    """A TRL-style caller (GRPO calls reward_funcs between its own seeded draws)."""
    import torch

    from grm.adapters.trl import make_trl_reward

    reward = make_trl_reward(RewardModel(tf_engine), mode="pointwise", k=2, max_tokens=16)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    expected = torch.rand(4)  # what the trainer draws next when nothing intervenes
    torch.set_rng_state(before)
    rewards = reward(prompts=["What is 2 + 2?"] * 2, completions=["4", "5"])
    assert len(rewards) == 2
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(torch.rand(4), expected)


def test_transformers_pointwise_scores(tf_engine: Engine) -> None:
    rm = RewardModel(tf_engine)
    s = rm.score("What is 40 + 2?", ["42", "41", "44"], k=2, max_tokens=48)
    assert s.k_used == 2 and s.abstentions == 0
    assert s.scores is not None and len(s.scores) == 3
    assert all(1.0 <= x <= 10.0 for x in s.scores)


@pytest.mark.vllm
def test_vllm_engine_contract(vllm_engine: Engine) -> None:
    check_generate_contract(vllm_engine)


@pytest.mark.vllm
def test_vllm_seed_follows_the_platform(vllm_engine) -> None:  # type: ignore[no-untyped-def]
    """Per-request seeds where vLLM supports them; on CPU only the engine-wide seed."""
    from vllm.platforms import current_platform

    assert vllm_engine.cpu == current_platform.is_cpu()
    prompt = vllm_engine.render_chat([{"role": "user", "content": "Write a word."}])
    sampling = SamplingConfig(temperature=1.0, max_tokens=12, seed=11)
    a = vllm_engine.generate([GenRequest(prompt, 2)], sampling)[0].completions
    b = vllm_engine.generate([GenRequest(prompt, 2)], sampling)[0].completions
    assert len(a) == len(b) == 2  # a seeded call runs on every platform
    if not vllm_engine.cpu:
        assert [c.text for c in a] == [c.text for c in b]


@pytest.mark.vllm
def test_vllm_judge_end_to_end(vllm_engine: Engine) -> None:
    check_results(RewardModel(vllm_engine), k=8)


@pytest.mark.vllm
def test_engines_agree(tf_engine: Engine, vllm_engine: Engine) -> None:
    """The reference and vLLM read the same forced-verdict probabilities and greedy tokens."""
    tf, vl = RewardModel(tf_engine), RewardModel(vllm_engine)
    prompt = tf_engine.render_chat(tf.template.messages(REQUESTS[0], (0, 1)))
    assert prompt == vllm_engine.render_chat(vl.template.messages(REQUESTS[0], (0, 1)))
    head = prompt + "Response A is right.\nFinal verdict: [["
    lp_tf = tf_engine.choice_logprobs([head], ("A", "B"))[0]
    lp_vl = vllm_engine.choice_logprobs([head], ("A", "B"))[0]
    assert lp_tf == pytest.approx(lp_vl, abs=0.15)
    greedy = SamplingConfig(temperature=0.0, max_tokens=8)
    t = tf_engine.generate([GenRequest(prompt, 1)], greedy)[0].completions[0].text
    v = vllm_engine.generate([GenRequest(prompt, 1)], greedy)[0].completions[0].text
    assert t[:12] == v[:12]
    # both parse to valid judgments on the same requests
    for rm in (tf, vl):
        for r in rm.compare_batch(REQUESTS, k=2, max_tokens=32):
            assert r.abstentions == 0 and sum(r.votes) + r.ties == 2


def test_a_cancelled_transformers_call_stops_at_the_next_token(tf_engine: Engine) -> None:
    """Served through the worker thread: a caller that stops waiting (client gone, deadline)
    stops the running ``generate`` at its next decoding step, so the next request does not
    wait for chains nobody will read."""
    import asyncio
    import time

    from grm.inference.aio import ThreadedEngine

    threaded = ThreadedEngine(tf_engine)
    prompt = tf_engine.render_chat(  # type: ignore[attr-defined]
        [{"role": "user", "content": "List the numbers from 1 to 2000, one per line."}]
    )
    long = SamplingConfig(temperature=0.0, max_tokens=2000)
    short = SamplingConfig(temperature=0.0, max_tokens=4)

    async def go() -> float:
        task = asyncio.create_task(threaded.agenerate([GenRequest(prompt, 1)], long))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        start = time.perf_counter()
        while not threaded.interrupted and time.perf_counter() - start < 60:
            await asyncio.sleep(0.05)
        stopped = time.perf_counter() - start
        # The worker thread is free again: the next call runs.
        assert len((await threaded.agenerate([GenRequest(prompt, 1)], short))[0].completions)
        return stopped

    try:
        stopped = asyncio.run(go())
    finally:
        threaded.close()
    # The long call was stopped early (a run-out call would not count as interrupted), and
    # promptly: one decoding step, a small fraction of 2000 tokens (slack for a busy CPU).
    assert threaded.interrupted == 1
    assert stopped < 10.0
