"""TIP thought-switch penalty as a vLLM V1 logits processor (imported only by the vLLM engine).

vLLM V1 takes custom logits processors as classes at ``LLM(logits_processors=[...])``; the
per-request settings travel in ``SamplingParams.extra_args[TIP_KEY]`` as
``{"ids": [...], "alpha": float, "beta": int}``. Requests without them are left untouched,
so registering the class costs nothing when TIP is off. The window rule is the pure
:func:`grm.inference.tip.tip_active`, shared with the transformers engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from grm.inference.tip import tip_active
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import AdapterLogitsProcessor

#: The ``SamplingParams.extra_args`` key this processor reads.
TIP_KEY = "grm_tip"
#: Fully qualified class name, as vLLM loads it in its engine-core process.
TIP_PROCESSOR_FQCN = "grm.inference.vllm_tip:TIPLogitsProcessor"


def tip_extra_args(ids: list[int], alpha: float, beta: int) -> dict[str, Any]:
    return {TIP_KEY: {"ids": list(ids), "alpha": float(alpha), "beta": int(beta)}}


class TIPLogitsProcessor(AdapterLogitsProcessor):
    """Lower the switch tokens' logits by alpha in the first beta tokens of each thought."""

    @classmethod
    def validate_params(cls, params: SamplingParams) -> None:
        spec = (params.extra_args or {}).get(TIP_KEY)
        if spec is None:
            return
        if not isinstance(spec, dict) or not {"ids", "alpha", "beta"} <= set(spec):
            raise ValueError(f"extra_args[{TIP_KEY!r}] needs ids, alpha and beta, got {spec!r}.")
        if spec["alpha"] < 0 or spec["beta"] < 0:
            raise ValueError(f"TIP alpha and beta must be >= 0, got {spec!r}.")

    def is_argmax_invariant(self) -> bool:
        return False  # a penalty can change the greedy token

    def new_req_logits_processor(
        self, params: SamplingParams
    ) -> Callable[[list[int], torch.Tensor], torch.Tensor] | None:
        spec = (params.extra_args or {}).get(TIP_KEY)
        if not spec or spec["alpha"] <= 0 or spec["beta"] <= 0 or not spec["ids"]:
            return None
        ids_list = [int(i) for i in spec["ids"]]
        id_set = set(ids_list)
        alpha, beta = float(spec["alpha"]), int(spec["beta"])
        index = torch.tensor(ids_list, dtype=torch.long)

        def penalise(output_ids: list[int], logits: torch.Tensor) -> torch.Tensor:
            if tip_active(output_ids, id_set, beta):
                logits[index.to(logits.device)] -= alpha
            return logits

        return penalise
