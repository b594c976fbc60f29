"""Thinking budget and the TIP thought-switch penalty (Wang et al. 2025)."""

from __future__ import annotations

import numpy as np
import pytest
from grm.inference.base import GenRequest, SamplingConfig
from grm.inference.tip import (
    switch_token_ids,
    thought_offset,
    tip_active,
    tip_mask,
    transformers_tip_processor,
)

from grm.config import JudgeConfig
from grm.driver import judge_batch
from grm.templates import get_template
from grm.types import JudgeRequest

SWITCH = [3, 7]


@pytest.mark.parametrize(
    ("generated", "offset"),
    [
        ([], 0),
        ([1, 2], 2),
        ([3], 0),
        ([1, 3, 2, 2], 2),
        ([7, 1, 3], 0),
        ([3, 1, 1, 7, 1], 1),
    ],
)
def test_thought_offset_counts_from_the_last_switch(generated: list[int], offset: int) -> None:
    assert thought_offset(generated, set(SWITCH)) == offset


@pytest.mark.parametrize(
    ("generated", "beta", "active"),
    [
        ([], 1, True),  # the chain start opens a thought
        ([1], 1, False),
        ([1, 1], 3, True),
        ([1, 1, 1], 3, False),
        ([1, 1, 1, 3], 3, True),  # a switch opens a new window
        ([1, 1, 1, 3, 1, 1, 1], 3, False),
        ([1], 0, False),  # beta 0: never
    ],
)
def test_tip_window(generated: list[int], beta: int, active: bool) -> None:
    assert tip_active(generated, set(SWITCH), beta) is active


def test_tip_mask_touches_only_switch_ids_in_the_window() -> None:
    inside = tip_mask([1, 3, 2], SWITCH, 2.5, beta=4, vocab_size=10)
    expected = np.zeros(10, dtype=np.float32)
    expected[SWITCH] = -2.5
    np.testing.assert_array_equal(inside, expected)
    outside = tip_mask([1, 3, 2, 2, 2, 2], SWITCH, 2.5, beta=4, vocab_size=10)
    np.testing.assert_array_equal(outside, np.zeros(10, dtype=np.float32))
    assert not tip_mask([1], SWITCH, 0.0, beta=4, vocab_size=10).any()


def test_switch_token_ids_take_both_space_variants() -> None:
    vocab = {"Wait": [10], " Wait": [11], "On the other": [12, 13], " On the other": [14, 13]}

    def encode(text: str) -> list[int]:
        return vocab.get(text, [99])

    assert switch_token_ids(encode, ["Wait", "On the other"]) == [10, 11, 12, 14]


def test_transformers_processor_matches_the_pure_mask() -> None:
    torch = pytest.importorskip("torch")
    vocab, prompt_len, alpha, beta = 12, 3, 1.5, 2
    proc = transformers_tip_processor(SWITCH, alpha, beta)
    prompt = torch.tensor([[5, 3, 5], [0, 0, 5]])  # a switch id inside the prompt is ignored
    rows = [[1, 1, 3, 1], [3, 1, 1, 1]]  # row 0 switches at step 2, row 1 at step 0
    for step in range(len(rows[0]) + 1):
        generated = torch.tensor([r[:step] for r in rows], dtype=torch.long)
        input_ids = torch.cat([prompt, generated], dim=1)
        scores = torch.randn(2, vocab)
        out = proc(input_ids, scores.clone())
        assert proc.prompt_len == prompt_len
        for b, row in enumerate(rows):
            want = scores[b].numpy() + tip_mask(row[:step], SWITCH, alpha, beta, vocab)
            np.testing.assert_allclose(out[b].numpy(), want, rtol=0, atol=1e-6)


def test_sampling_and_judge_configs_validate_tip_and_budget() -> None:
    with pytest.raises(ValueError, match="tip_alpha"):
        SamplingConfig(tip_alpha=-1.0)
    with pytest.raises(ValueError, match="max_think_tokens"):
        JudgeConfig(max_tokens=64, max_think_tokens=128)
    with pytest.raises(ValueError, match="tip_beta"):
        JudgeConfig(tip_beta=0)
    with pytest.raises(ValueError, match="tip_words"):
        JudgeConfig(tip_words="Wait")  # type: ignore[arg-type]
    assert not SamplingConfig(tip_alpha=2.0, tip_beta=8).tip_on  # no words: off
    assert SamplingConfig(tip_alpha=2.0, tip_beta=8, tip_words=("Wait",)).tip_on


def _first_greedy_token(engine: object, prompt: str, sampling: SamplingConfig) -> str:
    gen = engine.generate([GenRequest(prompt, 1)], sampling)  # type: ignore[attr-defined]
    return gen[0].completions[0].text


def _check_tip_moves_greedy_choice(engine: object) -> None:
    """Penalising the token greedy decoding would pick must change the pick; off, it must not."""
    prompt = engine.render_chat([{"role": "user", "content": "Say hello."}])  # type: ignore[attr-defined]
    plain = SamplingConfig(temperature=0.0, max_tokens=4)
    base = _first_greedy_token(engine, prompt, plain)
    first_id = engine.encode(base)[0]  # type: ignore[attr-defined]
    word = engine.tokenizer.decode([first_id])  # type: ignore[attr-defined]
    off = SamplingConfig(
        temperature=0.0, max_tokens=4, tip_alpha=0.0, tip_beta=4, tip_words=(word,)
    )
    assert _first_greedy_token(engine, prompt, off) == base
    on = SamplingConfig(temperature=0.0, max_tokens=4, tip_alpha=1e4, tip_beta=4, tip_words=(word,))
    penalised = _first_greedy_token(engine, prompt, on)
    banned = set(switch_token_ids(engine.encode, [word]))  # type: ignore[attr-defined]
    assert not banned & set(engine.encode(penalised))  # type: ignore[attr-defined]


@pytest.mark.slow
def test_tip_changes_the_greedy_token_transformers(tf_engine: object) -> None:
    _check_tip_moves_greedy_choice(tf_engine)


@pytest.mark.slow
@pytest.mark.vllm
def test_tip_changes_the_greedy_token_vllm(vllm_engine: object) -> None:
    _check_tip_moves_greedy_choice(vllm_engine)


@pytest.mark.slow
def test_thinking_budget_cuts_chains_and_forces_the_verdict(tf_engine: object) -> None:
    req = JudgeRequest("What is 12 + 30?", ("12 + 30 = 42.", "12 + 30 = 52."))
    cfg = JudgeConfig(k=4, max_tokens=64, max_think_tokens=6, on_unparsed="abstain", seed=1)
    (result,) = judge_batch(tf_engine, get_template("default"), [req], cfg)  # type: ignore[arg-type]
    assert result.k_used == 4
    for chain in result.chains:
        assert chain.completion_tokens <= 6
        if chain.finish_reason == "length":
            # Cut at the budget: closed and forced even though on_unparsed says abstain.
            assert chain.budget_hit and chain.forced and chain.judgment.winner is not None
    assert result.budget_hits >= 1
    assert result.summary()["budget_hits"] == result.budget_hits
    assert result.abstentions == sum(
        c.judgment.abstained for c in result.chains if not c.budget_hit
    )
