"""The async side for engines that only have the sync one: their calls on a worker thread.

The transformers engine (and any scripted engine) is not thread-safe and has no batching of
its own across calls, so every call runs on ONE worker thread, one after another, while the
event loop stays free. A cancelled await returns at once; the call already running on the
thread finishes (a transformers ``generate`` cannot be interrupted) and its result is
dropped. Engines with a native async side (vLLM ``AsyncLLM``, the remote engine) are used as
they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from grm.inference.base import AsyncEngine, Generation, GenRequest, SamplingConfig


class ThreadedEngine:
    """An :class:`~grm.inference.base.AsyncEngine` over a sync engine: one worker thread."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grm-engine")

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(self._pool, self.engine.generate, requests, sampling)
        return list(out)

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(self._pool, self.engine.choice_logprobs, prompts, choices)
        return list(out)

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        fn = self.engine.sequence_logprobs
        return list(await loop.run_in_executor(self._pool, fn, prompts, candidates))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def has_async_side(engine: Any) -> bool:
    """Whether the engine awaits natively (``agenerate``, ``achoice_logprobs`` and
    ``asequence_logprobs``)."""
    names = ("agenerate", "achoice_logprobs", "asequence_logprobs")
    return all(callable(getattr(engine, name, None)) for name in names)


def as_async(engine: Any) -> AsyncEngine:
    """The engine's own async side, or a :class:`ThreadedEngine` around its sync side."""
    if has_async_side(engine):
        return engine
    return ThreadedEngine(engine)
