"""In-line verdict forcing as a vLLM V1 logits processor (imported only by the vLLM engine).

A chain still running when only the verdict prefix and one more token fit under its
``max_tokens`` gets the prefix written in (every other logit masked), and its last token is
drawn among the choice tokens only. vLLM computes the returned log-probabilities from the raw
logits, before any logits processor (``Sampler.forward``, ``logprobs_mode="raw_logprobs"``),
so ``logprob_token_ids`` at that last position are the model's exact choice log-probabilities
after the prefix: what a separate forced pass would read, without prefilling the chain again.

The per-request settings travel in ``SamplingParams.extra_args[FORCE_KEY]`` as
``{"budget": int, "prefix": [ids], "choices": [ids]}``; requests without them are untouched.
The position rule is the pure :func:`grm.forcing.inline_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

from grm.forcing import inline_step

#: The ``SamplingParams.extra_args`` key this processor reads.
FORCE_KEY = "grm_force"
#: Fully qualified class name, as vLLM loads it in its engine-core process.
FORCE_PROCESSOR_FQCN = "grm.inference.vllm_force:VerdictForcingProcessor"


def force_extra_args(budget: int, prefix: list[int], choices: list[int]) -> dict[str, Any]:
    return {FORCE_KEY: {"budget": int(budget), "prefix": list(prefix), "choices": list(choices)}}


class VerdictForcingProcessor(AdapterLogitsProcessor):
    """Write the verdict prefix at the end of the budget, then draw among the choices."""

    @classmethod
    def validate_params(cls, params: SamplingParams) -> None:
        spec = (params.extra_args or {}).get(FORCE_KEY)
        if spec is None:
            return
        if not isinstance(spec, dict) or not {"budget", "prefix", "choices"} <= set(spec):
            raise ValueError(
                f"extra_args[{FORCE_KEY!r}] needs budget, prefix and choices, got {spec!r}."
            )
        if not spec["prefix"] or len(spec["choices"]) < 2:
            raise ValueError(f"in-line forcing needs a prefix and two or more choices: {spec!r}.")

    def is_argmax_invariant(self) -> bool:
        return False  # it replaces the greedy token

    def new_req_logits_processor(
        self, params: SamplingParams
    ) -> Callable[[list[int], torch.Tensor], torch.Tensor] | None:
        spec = (params.extra_args or {}).get(FORCE_KEY)
        if not spec:
            return None
        budget, prefix = int(spec["budget"]), [int(t) for t in spec["prefix"]]
        choices = torch.tensor([int(t) for t in spec["choices"]], dtype=torch.long)

        def force(output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
            step = inline_step(len(output_ids), budget, len(prefix))
            if step is None:
                return logits
            keep = choices.to(logits.device)
            if step < len(prefix):
                keep = torch.tensor([prefix[step]], dtype=torch.long, device=logits.device)
            kept = logits[keep].clone()
            logits.fill_(float("-inf"))
            logits[keep] = kept
            return logits

        return force
