"""Thought-switching penalty (TIP) for both engines: pure window rule, transformers processor.

Wang et al. 2025, "Thoughts Are All Over the Place: On the Underthinking of o1-Like LLMs"
(arXiv:2501.18585): reasoning models abandon a line of thought too early, and lowering the
logits of thought-switching tokens ("Alternatively", "Wait", ...) by ``alpha`` during the
first ``beta`` tokens of each thought improves accuracy without training. A thought starts
at the chain start or right after the last switch token.

Departures from the paper: a multi-token switch phrase ("On the other hand") is penalised
through its first token, the only one a next-token penalty can act on before the phrase is
committed; each word is taken with and without a leading space, since BPE tokenisers give
" Wait" and "Wait" different ids.

Both engines subtract alpha from the raw logits, before temperature scaling (transformers
applies a user ``logits_processor`` before its temperature warper; vLLM V1 applies
non-argmax-invariant processors before its temperature).

The vLLM processor lives in :mod:`grm.inference.vllm_tip` (imported only by the vLLM engine).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from grm.config import DEFAULT_TIP_WORDS

__all__ = [
    "DEFAULT_TIP_WORDS",
    "switch_token_ids",
    "thought_offset",
    "tip_active",
    "tip_mask",
    "transformers_tip_processor",
]


def switch_token_ids(encode: Callable[[str], list[int]], words: Sequence[str]) -> list[int]:
    """The token ids a penalty acts on: the first token of each word, with and without a
    leading space, de-duplicated in first-seen order.

    >>> switch_token_ids(lambda s: [len(s), 0], ["Wait"])
    [4, 5]
    """
    ids: list[int] = []
    for word in words:
        for variant in (word, " " + word):
            encoded = encode(variant)
            if encoded and encoded[0] not in ids:
                ids.append(encoded[0])
    return ids


def thought_offset(generated: Sequence[int], switch_ids: Collection[int]) -> int:
    """Tokens generated since the current thought began (after the last switch token).

    >>> thought_offset([5, 9, 7, 1, 2], {9})
    3
    >>> thought_offset([1, 2], {9})
    2
    """
    for back, token in enumerate(reversed(generated)):
        if token in switch_ids:
            return back
    return len(generated)


def tip_active(generated: Sequence[int], switch_ids: Collection[int], beta: int) -> bool:
    """Whether the next token falls in the first ``beta`` tokens of the current thought."""
    return thought_offset(generated, switch_ids) < beta


def tip_mask(
    generated: Sequence[int],
    switch_ids: Sequence[int],
    alpha: float,
    beta: int,
    vocab_size: int,
) -> np.ndarray:
    """The additive penalty on the next-token logits: ``-alpha`` at the switch ids while the
    next token is in the window, zero everywhere else.

    >>> tip_mask([3], [1, 2], 2.0, 5, 4).tolist()
    [0.0, -2.0, -2.0, 0.0]
    >>> tip_mask([3, 1, 3], [1, 2], 2.0, 1, 4).tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    mask = np.zeros(vocab_size, dtype=np.float32)
    if alpha > 0 and switch_ids and tip_active(generated, set(switch_ids), beta):
        mask[list(switch_ids)] = -alpha
    return mask


def transformers_tip_processor(switch_ids: Sequence[int], alpha: float, beta: int) -> Any:
    """A ``transformers.LogitsProcessor`` applying :func:`tip_mask` to every row of a batch.

    Make one per ``generate`` call: its first call records the (left-padded) prompt length,
    so ``input_ids[:, prompt_len:]`` are the generated tokens of each row.
    """
    import torch
    from transformers import LogitsProcessor

    class TIPLogitsProcessor(LogitsProcessor):
        def __init__(self) -> None:
            self.ids = torch.tensor(list(switch_ids), dtype=torch.long)
            self.prompt_len: int | None = None

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if self.prompt_len is None:
                self.prompt_len = int(input_ids.shape[1])
            generated = input_ids[:, self.prompt_len :]
            steps = generated.shape[1]
            # Vectorised thought_offset: position after the last switch token, per row.
            hits = torch.isin(generated, self.ids.to(generated.device))
            positions = torch.arange(1, steps + 1, device=generated.device)
            if steps:
                start = torch.where(hits, positions, torch.zeros_like(positions)).amax(dim=1)
            else:
                start = torch.zeros(generated.shape[0], dtype=torch.long, device=hits.device)
            active = (steps - start) < beta
            if bool(active.any()):
                ids = self.ids.to(scores.device)
                scores = scores.clone()
                rows = active.nonzero(as_tuple=True)[0].to(scores.device)
                scores[rows.unsqueeze(1), ids.unsqueeze(0)] -= alpha
            return scores

    return TIPLogitsProcessor()
