"""The transformers engine: the reference backend, and the fallback where vLLM is absent.

Prompts are batched with left padding and sampled with ``num_return_sequences``, so one
``generate`` call serves a whole chunk of prompts.

Seeds: each ``generate`` call samples inside ``torch.random.fork_rng``, seeded with
``SamplingConfig.seed`` (fresh entropy when it is None), so the same seed gives the same
chains and the caller's global random state (a trainer's, when the judge is a TRL reward)
is exactly as it was before the call.

Cancellation: served through :class:`~grm.inference.aio.ThreadedEngine`, a call whose caller
stopped waiting (client gone, deadline passed) stops at the next decoding step (a stopping
criterion reads :func:`~grm.inference.aio.cancel_event`) or before its next chunk, and
raises :class:`~grm.inference.aio.CallCancelled`, so the worker thread is free for the next
request instead of finishing chains nobody will read.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grm.inference.aio import CallCancelled, cancel_event
from grm.inference.base import (
    ChatTokenizer,
    Completion,
    Generation,
    GenRequest,
    SamplingConfig,
    choice_token_ids,
    continuation_ids,
    register_engine,
)
from grm.inference.tip import switch_token_ids, transformers_tip_processor

logger = logging.getLogger(__name__)


def _check(stop: Any) -> None:
    if stop is not None and stop.is_set():
        raise CallCancelled("the caller stopped waiting; the engine call was stopped early.")


def _stopping(stop: Any) -> Any:
    """A transformers stopping criterion that ends every row once ``stop`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
            return torch.full(
                (input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device
            )

    return StoppingCriteriaList([_Cancelled()])


@dataclass(frozen=True)
class TransformersEngineConfig:
    """Options of the transformers engine."""

    dtype: str = "float32"
    """Weights dtype: float32 (fastest on CPU), bfloat16 or float16."""
    device: str | None = None
    """'cpu', 'cuda', ...; None picks CUDA when available."""
    batch_size: int = 16
    """Most prompts per generate call (each sampled n times)."""

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "bfloat16", "float16", "auto"):
            raise ValueError(
                f"dtype must be float32, bfloat16, float16 or auto, got {self.dtype!r}."
            )
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}.")


class TransformersEngine(ChatTokenizer):
    name = "transformers"

    def __init__(self, model: str, config: TransformersEngineConfig | None = None, **kw: Any):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config or TransformersEngineConfig(**kw)
        self.device = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = (
            self.config.dtype if self.config.dtype == "auto" else getattr(torch, self.config.dtype)
        )
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        loaded = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
        self.model = loaded.to(self.device)  # type: ignore[arg-type]
        self.model.eval()
        self.max_context = int(getattr(self.model.config, "max_position_embeddings", 2048))
        self._torch = torch

    def _batch(self, prompts: Sequence[str]) -> Any:
        """Left-padded ids and attention mask; a :class:`TokenText` prompt gives its own ids."""
        torch = self._torch
        rows = [self.ids(p) for p in prompts]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            if row:
                ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
                mask[i, width - len(row) :] = 1
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        torch = self._torch
        # Sample on a forked generator: the caller's CPU (and this device's) RNG state is
        # restored on exit, so judging never moves a trainer's random stream.
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if sampling.seed is not None:
                torch.manual_seed(sampling.seed)
            else:
                torch.seed()  # fresh entropy, not a replay of the caller's stream
            return self._generate(requests, sampling)

    def _generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        from transformers import LogitsProcessorList

        torch = self._torch
        results: list[Generation | None] = [None] * len(requests)
        # num_return_sequences is one number per generate call: group prompts by n.
        by_n: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            by_n.setdefault(r.n, []).append(i)
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        stop = cancel_event()
        for n, idxs in by_n.items():
            for start in range(0, len(idxs), self.config.batch_size):
                _check(stop)
                chunk = idxs[start : start + self.config.batch_size]
                enc = self._batch([requests[i].prompt for i in chunk])
                greedy = sampling.temperature == 0
                # transformers refuses num_return_sequences > 1 without sampling; greedy
                # chains are identical, so one is decoded and repeated (vLLM returns n copies).
                draws = 1 if greedy else n
                extra: dict[str, Any] = {}
                if stop is not None:
                    extra["stopping_criteria"] = _stopping(stop)
                if sampling.tip_on:
                    ids = switch_token_ids(self.encode, sampling.tip_words)
                    extra["logits_processor"] = LogitsProcessorList(
                        [transformers_tip_processor(ids, sampling.tip_alpha, sampling.tip_beta)]
                    )
                with torch.no_grad():
                    out = self.model.generate(
                        **enc,
                        **extra,
                        do_sample=not greedy,
                        temperature=None if greedy else sampling.temperature,
                        top_p=None if greedy else sampling.top_p,
                        top_k=None,
                        max_new_tokens=sampling.max_tokens,
                        num_return_sequences=draws,
                        pad_token_id=pad,
                    )
                _check(stop)
                new = out[:, enc["input_ids"].shape[1] :]
                lengths = enc["attention_mask"].sum(dim=1).tolist()
                inputs = enc["input_ids"].tolist()
                for j, i in enumerate(chunk):
                    comps = []
                    rows = new[j * draws : (j + 1) * draws].tolist()
                    for row in rows * (n // draws):
                        ended = eos in row
                        toks = row[: row.index(eos) + 1] if ended else row
                        text = self.tokenizer.decode(toks, skip_special_tokens=True)
                        finish = "stop" if ended else "length"
                        comps.append(Completion(text, len(toks), finish, tuple(toks)))
                    own = tuple(inputs[j][len(inputs[j]) - int(lengths[j]) :])
                    results[i] = Generation(int(lengths[j]), comps, own)
        return [r for r in results if r is not None]

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        torch = self._torch
        out: list[list[float]] = []
        stop = cancel_event()
        for start in range(0, len(prompts), self.config.batch_size):
            _check(stop)
            chunk = prompts[start : start + self.config.batch_size]
            enc = self._batch(chunk)
            with torch.no_grad():
                logits = self.model(**enc).logits[:, -1, :].float()
            logp = torch.log_softmax(logits, dim=-1)
            for row, prompt in zip(logp, chunk, strict=True):
                ids = choice_token_ids(self.encode, prompt[-64:], choices)
                out.append([float(row[t]) for t in ids])
        return out

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """Sum of the candidate tokens' log-probabilities (full softmax). The prompt is run
        once and its KV cache shared by all candidates (``DynamicCache.batch_repeat_interleave``),
        so a prompt with ten scores costs one prompt pass plus ten short tails, not ten
        prompt passes."""
        torch = self._torch
        pad = self.tokenizer.pad_token_id or 0
        out: list[list[float]] = []
        stop = cancel_event()
        for prompt in prompts:
            _check(stop)
            head = self.ids(prompt)
            tails = [continuation_ids(self.encode, prompt, c) for c in candidates]
            width = max(len(t) for t in tails)
            ids = torch.full((len(tails), width), pad, dtype=torch.long)
            mask = torch.zeros((len(tails), len(head) + width), dtype=torch.long)
            mask[:, : len(head)] = 1
            for row, tail in enumerate(tails):
                ids[row, : len(tail)] = torch.tensor(tail, dtype=torch.long)
                mask[row, len(head) : len(head) + len(tail)] = 1
            with torch.no_grad():
                first = self.model(
                    input_ids=torch.tensor([head], device=self.device), use_cache=True
                )
                cache = first.past_key_values
                if hasattr(cache, "batch_repeat_interleave"):
                    cache.batch_repeat_interleave(len(tails))
                    # right padding: each real tail token sits at its true position
                    rest = self.model(
                        input_ids=ids.to(self.device),
                        attention_mask=mask.to(self.device),
                        past_key_values=cache,
                        use_cache=False,
                    ).logits.float()
                else:  # a cache class that cannot be shared: the whole sequences, once each
                    whole = torch.cat([torch.tensor([head] * len(tails)), ids], dim=1)
                    rest = (
                        self.model(
                            input_ids=whole.to(self.device), attention_mask=mask.to(self.device)
                        )
                        .logits[:, len(head) :]
                        .float()
                    )
            start_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
            logp = torch.log_softmax(rest, dim=-1)
            scores = []
            for row, tail in enumerate(tails):
                # tail token 0 is predicted by the head's last logits, token j by tail logits j-1
                total = sum(
                    float(start_logp[tok]) if j == 0 else float(logp[row, j - 1, tok])
                    for j, tok in enumerate(tail)
                )
                scores.append(total)
            out.append(scores)
        return out

    def close(self) -> None:
        del self.model


@register_engine("transformers")
def _make(model: str, **options: Any) -> TransformersEngine:
    return TransformersEngine(model, **options)
