"""grm against raw vLLM on the same rendered prompts (``scripts/bench_throughput.py``).

:class:`VLLMContenders` builds the contenders :func:`grm.benchmarks.timing.side_by_side`
times: raw ``vllm.LLM.generate`` on exactly the prompts and ``n`` grm sends, and
``compare_batch`` with the forced-verdict pass, in-line forcing, no forcing, or the pass sent
as re-tokenised text. The forced pass (``choice_logprobs``) is timed apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from grm.benchmarks.timing import engine_prompts


class VLLMContenders:
    """The contenders on one vLLM engine (``rm.engine``) for ``requests`` at ``k``."""

    def __init__(self, rm: Any, requests: Sequence[Any], k: int) -> None:
        from vllm import SamplingParams

        self.rm, self.engine, self.requests, self.k = rm, rm.engine, list(requests), k
        self.llm = self.engine.llm
        self.pairs = engine_prompts(rm, requests, k)
        cfg = rm.config
        self.params = [
            SamplingParams(n=n, temperature=cfg.temperature, max_tokens=cfg.max_tokens)
            for _, n in self.pairs
        ]
        self.token_prompts = [{"prompt_token_ids": self.engine.encode(p)} for p, _ in self.pairs]
        self.forcing = {"seconds": 0.0, "as_text": False}
        choice_logprobs = self.engine.choice_logprobs

        def timed_choice(prompts: Any, choices: Any) -> Any:
            if self.forcing["as_text"]:
                prompts = [str(p) for p in prompts]
            start = time.perf_counter()
            try:
                return choice_logprobs(prompts, choices)
            finally:
                self.forcing["seconds"] += time.perf_counter() - start

        self.engine.choice_logprobs = timed_choice

    @property
    def block_size(self) -> int:
        return int(self.llm.llm_engine.vllm_config.cache_config.block_size)

    def warm_up(self) -> None:
        """First-call overheads, and every prompt in the prefix cache for all sides alike (one
        prefill-only step per prompt; the chains sampled later are fresh for every side)."""
        from vllm import SamplingParams

        self.llm.generate(self.token_prompts, SamplingParams(max_tokens=1), use_tqdm=False)

    def measured(self, fn: Callable[[], tuple[int, int]]) -> Callable[[], dict[str, Any]]:
        """A contender's round: ``fn`` returns (completion tokens, forced chains)."""

        def round_() -> dict[str, Any]:
            self.forcing["seconds"] = 0.0
            before, start = self.engine.stats(), time.perf_counter()
            tokens, forced = fn()
            secs, after = time.perf_counter() - start, self.engine.stats()
            return {
                "seconds": secs,
                "judgments_per_s": len(self.requests) / secs,
                "chains_per_s": len(self.requests) * self.k / secs,
                "completion_tokens": tokens,
                "tokens_per_s": tokens / secs,
                "forced_chains": forced,
                "forcing_seconds": self.forcing["seconds"],
                **{
                    f"forcing_{k}_tokens": after[f"choice_{k}_tokens"]
                    - before[f"choice_{k}_tokens"]
                    for k in ("prompt", "cached")
                },
            }

        return round_

    def raw(self) -> tuple[int, int]:
        outs = self.llm.generate(self.token_prompts, self.params, use_tqdm=False)
        return sum(len(c.token_ids) for o in outs for c in o.outputs), 0

    def grm(self, policy: str, as_text: bool = False, how: str = "pass") -> Callable[[], Any]:
        def go() -> tuple[int, int]:
            self.forcing["as_text"] = as_text
            res = self.rm.compare_batch(self.requests, k=self.k, on_unparsed=policy, forcing=how)
            return sum(r.completion_tokens for r in res), sum(r.forced for r in res)

        return go

    def contenders(self, text_forcing: bool = False) -> dict[str, Callable[[], dict[str, Any]]]:
        out = {
            "b_raw_vllm": self.measured(self.raw),
            "a_grm_vllm": self.measured(self.grm("force")),
            "a_grm_vllm_inline": self.measured(self.grm("force", how="inline")),
            "a_grm_vllm_abstain": self.measured(self.grm("abstain")),
        }
        if text_forcing:
            out["a_grm_vllm_text_forcing"] = self.measured(self.grm("force", as_text=True))
        return out
