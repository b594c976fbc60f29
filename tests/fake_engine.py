"""A scripted engine for pure-logic tests: no model, exact control of every chain."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from grm.inference.base import ChatTokenizer, Completion, Generation, GenRequest, SamplingConfig

from grm.types import Message


class FakeEngine:
    """Returns chains from ``script(prompt, i)``; choice log-probs from ``choice_fn(prompt)``.

    Every call is recorded in ``calls`` so tests can count engine passes.
    """

    name = "fake"

    def __init__(
        self,
        script: Callable[[str, int], str],
        choice_fn: Callable[[str, Sequence[str]], list[float]] | None = None,
        max_context: int = 8192,
        sequence_fn: Callable[[str, Sequence[str]], list[float]] | None = None,
    ) -> None:
        self.script = script
        self.choice_fn = choice_fn or (lambda prompt, choices: [0.0] * len(choices))
        self.sequence_fn = sequence_fn or (lambda prompt, cands: [0.0] * len(cands))
        self.max_context = max_context
        self.calls: list[tuple[str, int]] = []

    def render_chat(self, messages: Sequence[Message]) -> str:
        return (
            "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + "<assistant>"
        )

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        self.calls.append(("generate", len(requests)))
        out = []
        for r in requests:
            comps = []
            for i in range(r.n):
                full = self.script(r.prompt, i)
                text = full[: sampling.max_tokens * 4]
                finish = "length" if len(full) > len(text) else "stop"
                comps.append(Completion(text, self.count_tokens(text), finish))
            out.append(Generation(self.count_tokens(r.prompt), comps))
        return out

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        self.calls.append(("choice_logprobs", len(prompts)))
        return [self.choice_fn(p, choices) for p in prompts]

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        self.calls.append(("sequence_logprobs", len(prompts)))
        return [self.sequence_fn(p, candidates) for p in prompts]

    def close(self) -> None:
        pass


class TokenizerFakeEngine(ChatTokenizer, FakeEngine):
    """A scripted engine that renders and counts with a REAL tokenizer (its chat template).

    For template and truncation checks that need the model's chat template and token counts
    but no model: loading the default model's tokenizer takes under a second.
    """

    def __init__(
        self,
        tokenizer: Any,
        script: Callable[[str, int], str],
        choice_fn: Callable[[str, Sequence[str]], list[float]] | None = None,
        max_context: int = 8192,
    ) -> None:
        FakeEngine.__init__(self, script, choice_fn, max_context)
        self.tokenizer = tokenizer
