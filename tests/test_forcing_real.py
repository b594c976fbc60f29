"""Forced scores on the real default model: a most probable score of 10 is read as 10.

On a counting prompt the model's most probable continuation after "9, " is "10". Read as
whole candidate sequences (``sequence_logprobs``, what grm.forcing uses) the forced score
is 10; read as a next-token digit (the old rule) it is 1, since "10" starts with the token
"1". The same checks run on vLLM-CPU (its exact ``logprob_token_ids`` and
``prompt_logprobs`` reads) when vLLM is installed.
"""

from __future__ import annotations

from typing import ClassVar

import pytest
from grm.inference import Engine

from grm.driver import execute, run
from grm.forcing import force_scores
from grm.templates.base import Template

pytestmark = pytest.mark.slow

COUNT = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]


class Counting(Template):
    """A one-slot score range 1-10, each score followed by a comma (for the test only)."""

    name = "counting"
    kind = "pointwise"
    verdict_prefix = ""
    score_close = ","
    min_responses: ClassVar[int] = 1

    def messages(self, request, order):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def parse(self, text, n_responses):  # type: ignore[no-untyped-def]
        return None


def check_ten(engine: Engine) -> None:
    head = engine.render_chat(COUNT) + "1, 2, 3, 4, 5, 6, 7, 8, 9, "
    # the old rule: the most probable next digit token is "1"
    digits = engine.choice_logprobs([head], [str(d) for d in range(1, 10)])[0]
    assert 1 + max(range(9), key=digits.__getitem__) == 1
    # whole sequences: "10," wins by a wide margin
    seq = engine.sequence_logprobs([head], [f"{v}," for v in range(1, 11)])[0]
    assert max(range(10), key=seq.__getitem__) == 9
    assert seq[9] > max(seq[:9]) + 2.0
    # the forcing module on the real model reads 10
    chosen = run(force_scores(Counting(), [head], 1), lambda op: execute(engine, op))
    assert chosen == [[10]]


def test_forced_score_of_ten_transformers(tf_engine: Engine) -> None:
    check_ten(tf_engine)


@pytest.mark.parametrize("shared", [True, False], ids=["shared-cache", "whole-sequences"])
def test_shared_prompt_cache_reads_what_a_full_pass_reads(
    tf_engine: Engine, shared: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transformers engine runs the prompt once and shares its KV cache across the
    candidates; each sum equals the plain definition, one full forward of prompt + candidate.
    Without ``Cache.batch_repeat_interleave`` (a cache class that cannot be shared) the engine
    runs the whole sequences instead, with the same sums."""
    import torch
    from grm.inference.base import continuation_ids
    from transformers.cache_utils import Cache

    if not shared:
        monkeypatch.delattr(Cache, "batch_repeat_interleave")

    head = tf_engine.render_chat(COUNT) + "1, 2, 3, 4, 5, 6, 7, 8, 9, "
    cands = ["10,", "1,", " eleven, twelve and more words than the others"]  # uneven tails
    got = tf_engine.sequence_logprobs([head, head + "10, "], cands)
    model = tf_engine.model  # type: ignore[attr-defined]
    for prompt, row in zip([head, head + "10, "], got, strict=True):
        h = tf_engine.ids(prompt)  # type: ignore[attr-defined]
        for cand, value in zip(cands, row, strict=True):
            tail = continuation_ids(tf_engine.encode, prompt, cand)  # type: ignore[attr-defined]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([h + tail])).logits.float()
            logp = torch.log_softmax(logits[0], dim=-1)
            ref = sum(float(logp[len(h) + j - 1, t]) for j, t in enumerate(tail))
            assert value == pytest.approx(ref, abs=1e-3), cand


@pytest.mark.vllm
def test_forced_score_of_ten_vllm(tf_engine: Engine, vllm_engine: Engine) -> None:
    check_ten(vllm_engine)
    # exact choice log-probabilities: vLLM (logprob_token_ids) agrees with the full softmax
    head = tf_engine.render_chat(COUNT) + "1, 2, 3, 4, 5, 6, 7, 8, 9, "
    choices = [str(d) for d in range(1, 10)]
    ref = tf_engine.choice_logprobs([head], choices)[0]
    got = vllm_engine.choice_logprobs([head], choices)[0]
    assert got == pytest.approx(ref, abs=0.15)
    # tokens far outside the top 20 are read exactly too (no floor at the 20th value)
    rare = ["1", " Paris", " zebra"]
    ref, got = (
        tf_engine.choice_logprobs([head], rare)[0],
        vllm_engine.choice_logprobs([head], rare)[0],
    )
    assert min(ref) < -15 and got == pytest.approx(ref, abs=0.3)
    seq_ref = tf_engine.sequence_logprobs([head], ["10,", "1,"])[0]
    seq_got = vllm_engine.sequence_logprobs([head], ["10,", "1,"])[0]
    # bf16 CPU kernels: the error grows with the magnitude (-6.13 against -6.37 seen in CI)
    assert seq_got == pytest.approx(seq_ref, rel=0.05, abs=0.2)
