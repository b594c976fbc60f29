"""Timing contenders side by side in one process, on the same prompts.

These machines are shared and noisy, so a comparison runs its contenders round-robin in one
process and each keeps its fastest round: a burst of load then does not land on one side
only, and ratios between contenders hold where absolute rates do not.

>>> rows = side_by_side({"a": lambda: {"tokens": 1}, "b": lambda: {"tokens": 2}}, repeats=2)
>>> sorted(rows), rows["b"]["tokens"], rows["a"]["seconds"] >= 0
(['a', 'b'], 2, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def side_by_side(
    contenders: dict[str, Callable[[], dict[str, Any]]],
    repeats: int = 1,
    on_round: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every contender ``repeats`` times, round-robin; each keeps its fastest round.

    A contender returns the figures of its round (tokens, counts); ``seconds`` is added.
    ``on_round(name, row)`` sees every round as it ends (a long run shows what it has).
    """
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            figures = fn()
            row = {"seconds": time.perf_counter() - start, **figures}
            if on_round:
                on_round(name, row)
            if name not in best or row["seconds"] < best[name]["seconds"]:
                best[name] = row
    return best


def engine_prompts(rm: Any, requests: Sequence[Any], k: int) -> list[tuple[Any, int]]:
    """The exact ``(prompt, n)`` pairs grm sends to the engine for ``requests`` at ``k``
    (one per response order in each request's plan), so a raw engine call can be timed on
    the same work."""
    from grm.judge import _prompt, plan_orders, prepare

    cfg = rm.config.with_(k=k)
    pairs = []
    for i, r in enumerate(requests):
        prep = prepare(rm.engine, rm.template, r, i, cfg)
        counts: dict[tuple[int, ...], int] = {}
        for o in plan_orders("pairwise", 2, 0, k, (rm.config.seed, i), cfg):
            counts[o] = counts.get(o, 0) + 1
        pairs += [(_prompt(rm.engine, rm.template, prep, o), n) for o, n in counts.items()]
    return pairs


def transformers_loop(
    path: str, prompts: Sequence[str], k: int, max_tokens: int, temperature: float
) -> dict[str, Any]:
    """What most judge code does: one transformers ``generate(num_return_sequences=k)`` per
    prompt, fp32, seeded; seconds, rates and completion tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    torch.manual_seed(0)
    start, tokens = time.perf_counter(), 0
    for p in prompts:
        enc = tok(p, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **enc,
                do_sample=True,
                temperature=temperature,
                top_k=None,
                max_new_tokens=max_tokens,
                num_return_sequences=k,
                pad_token_id=tok.eos_token_id,
            )
        tokens += int((out[:, enc["input_ids"].shape[1] :] != tok.eos_token_id).sum())
    secs = time.perf_counter() - start
    return {
        "seconds": secs,
        "judgments_per_s": len(prompts) / secs,
        "chains_per_s": len(prompts) * k / secs,
        "completion_tokens": tokens,
        "tokens_per_s": tokens / secs,
    }
