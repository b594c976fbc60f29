"""Forced verdicts continue the sampled token ids (the default model's real tokenizer).

A chain cut before its verdict is closed with the verdict prefix; where the engine returned
the prompt's and the chain's ids, the forced prompt carries prompt ids + the chain's own ids
+ the prefix's ids (so vLLM's prefix cache covers prompt and chain), and it still spells the
same text the text path sends.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import pytest
from fake_engine import TokenizerFakeEngine
from grm.inference.base import (
    Completion,
    Generation,
    GenRequest,
    SamplingConfig,
    TokenCodec,
    TokenText,
    prompt_ids,
)

from grm import JudgeConfig, JudgeRequest
from grm.driver import run
from grm.forcing import continue_ids, extend
from grm.judge import ChoiceLogprobs, Generate, prepare, wave_steps
from grm.templates import get_template
from grm.verdicts import closing

PROMPT = "<|im_start|>user\nWhich is right?<|im_end|>\n<|im_start|>assistant\n"


class IdEngine(TokenizerFakeEngine):
    """Returns each chain's token ids as a sampling engine does (end-of-turn id included
    when the chain stopped)."""

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        eos = self.tokenizer.convert_tokens_to_ids("<|im_end|>")
        out = []
        for r, g in zip(requests, super().generate(requests, sampling), strict=True):
            comps = []
            for c in g.completions:
                ids = self.encode(c.text) + ([eos] if c.finish_reason == "stop" else [])
                comps.append(Completion(c.text, len(ids), c.finish_reason, tuple(ids)))
            out.append(Generation(g.prompt_tokens, comps, tuple(self.encode(r.prompt))))
        return out


@pytest.fixture(scope="module")
def codec(default_tokenizer: Any) -> TokenCodec:
    return TokenizerFakeEngine(default_tokenizer, lambda p, i: "")


def test_engines_with_a_tokenizer_are_codecs(codec: TokenCodec) -> None:
    assert isinstance(codec, TokenCodec)
    assert codec.decode(codec.encode("Final verdict: [[")) == "Final verdict: [["


def test_a_cut_chain_continues_its_own_ids(codec: TokenCodec) -> None:
    chain = "Response A adds the tens first, then"
    p_ids, c_ids = codec.encode(PROMPT), codec.encode(chain)
    suffix = "\nFinal verdict: [["
    got = continue_ids(PROMPT, p_ids, chain, c_ids, len(chain), suffix, codec)
    assert isinstance(got, TokenText)
    assert got == PROMPT + chain + suffix
    assert list(got.token_ids) == p_ids + c_ids + codec.encode(suffix)


def test_trailing_whitespace_and_end_of_turn_ids_are_dropped_as_the_text_drops_them(
    codec: TokenCodec,
) -> None:
    template = get_template("default")
    body = "Both say 42, so"
    chain = body + "\n\n"
    eos = codec.encode("<|im_end|>")
    c_ids = codec.encode(chain) + eos  # a stopped chain ends with its end-of-turn id
    keep, suffix = closing(template, chain)
    assert keep == len(body)
    got = continue_ids(PROMPT, codec.encode(PROMPT), chain, c_ids, keep, suffix, codec)
    assert got == PROMPT + body + "\n" + template.verdict_prefix
    assert list(got.token_ids) == (
        codec.encode(PROMPT) + codec.encode(body) + codec.encode(suffix)  # type: ignore[attr-defined]
    )
    assert codec.decode(got.token_ids) == str(got)


def test_a_chain_cut_inside_the_verdict_prefix_is_closed_there(codec: TokenCodec) -> None:
    template = get_template("default")
    chain = "A is right.\nFinal verdict: ["
    keep, suffix = closing(template, chain)
    got = continue_ids(
        PROMPT, codec.encode(PROMPT), chain, codec.encode(chain), keep, suffix, codec
    )
    assert got == PROMPT + "A is right.\n" + template.verdict_prefix
    assert codec.decode(got.token_ids) == str(got)  # type: ignore[attr-defined]
    assert isinstance(got, TokenText)
    assert got.token_ids[: len(codec.encode(PROMPT))] == tuple(codec.encode(PROMPT))


def test_without_ids_or_a_tokenizer_the_text_goes_out_plain(codec: TokenCodec) -> None:
    for p_ids, c_ids, c in [(None, [1], codec), ([1], [1], None)]:
        got = continue_ids("p", p_ids, "chain", c_ids, 5, "!", c)
        assert got == "pchain!" and not isinstance(got, TokenText)
    # prompt ids without chain ids (a remote chain): the chain text is encoded after them
    got = continue_ids(PROMPT, codec.encode(PROMPT), "so", None, 2, "!", codec)
    assert isinstance(got, TokenText)
    assert list(got.token_ids) == codec.encode(PROMPT) + codec.encode("so!")


def test_token_text_is_its_string_and_pickles_with_its_ids() -> None:
    t = TokenText("abc", [1, 2, 3])
    assert t == "abc" and t[-2:] == "bc" and not isinstance(t[-2:], TokenText)
    back = pickle.loads(pickle.dumps(t))
    assert isinstance(back, TokenText) and back.token_ids == (1, 2, 3) and back == "abc"
    assert prompt_ids(lambda s: [9], t) == [1, 2, 3]
    assert prompt_ids(lambda s: [9], "abc") == [9]


def test_extend_keeps_ids_and_encodes_the_new_text(codec: TokenCodec) -> None:
    head = TokenText("x", [7])
    got = extend(head, "5, ", codec)
    assert isinstance(got, TokenText) and got == "x5, "
    assert list(got.token_ids) == [7, *codec.encode("5, ")]
    assert extend(head, "", codec) is head


def test_the_forced_pass_of_a_wave_sends_prompt_chain_and_prefix_ids(
    default_tokenizer: Any,
) -> None:
    chains = ["Response A is", "Both look fine.\n\n", "B is right\nFinal verdict: ["]
    engine = IdEngine(default_tokenizer, lambda p, i: chains[i % 3] + "x" * 400)
    template = get_template("default")
    cfg = JudgeConfig(k=3, max_tokens=4)
    request = JudgeRequest("What is 2 + 2?", ("4", "5"))
    prep = prepare(engine, template, request, 0, cfg)
    orders = [[(0, 1)] * 3]
    seen: list[Any] = []

    def call(op: Any) -> Any:
        seen.append(op)
        if isinstance(op, Generate):
            # every chain cut before its verdict, with the ids the engine sampled
            sampled = engine.generate(op.requests, op.sampling)
            return [
                Generation(
                    g.prompt_tokens,
                    [
                        Completion(chains[j], 9, "length", tuple(engine.encode(chains[j])))
                        for j, _ in enumerate(g.completions)
                    ],
                    g.prompt_token_ids,
                )
                for g in sampled
            ]
        return [[-1.0, -2.0] for _ in op.prompts]

    got, _ = run(wave_steps(engine, template, [prep], orders, cfg), call)
    forced = [op for op in seen if isinstance(op, ChoiceLogprobs)]
    assert len(forced) == 1 and len(forced[0].prompts) == 3
    base = prep.prompts[(0, 1)]
    for chain, sent in zip(chains, forced[0].prompts, strict=True):
        keep, suffix = closing(template, chain)
        assert sent == base + chain[:keep] + suffix  # the text path's string
        assert isinstance(sent, TokenText)
        head = engine.encode(base) + engine.encode(chain[:keep])
        assert list(sent.token_ids[: len(head)]) == head
        assert engine.decode(sent.token_ids) == str(sent)
    assert all(c.forced for c in got[0])


def test_engines_without_ids_force_through_text(default_tokenizer: Any) -> None:
    engine = TokenizerFakeEngine(default_tokenizer, lambda p, i: "Response A is" + "x" * 400)
    template = get_template("default")
    cfg = JudgeConfig(k=2, max_tokens=4)
    prep = prepare(engine, template, JudgeRequest("Q?", ("a", "b")), 0, cfg)
    seen: list[Any] = []

    def call(op: Any) -> Any:
        seen.append(op)
        if isinstance(op, Generate):
            return engine.generate(op.requests, op.sampling)
        return [[-1.0, -2.0] for _ in op.prompts]

    run(wave_steps(engine, template, [prep], [[(0, 1), (1, 0)]], cfg), call)
    forced = [op for op in seen if isinstance(op, ChoiceLogprobs)][0]
    assert forced.prompts and not any(isinstance(p, TokenText) for p in forced.prompts)
