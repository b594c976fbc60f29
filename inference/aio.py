"""The async side for engines that only have the sync one: their calls on a worker thread.

The transformers engine (and any scripted engine) is not thread-safe and has no batching of
its own across calls, so every call runs on ONE worker thread, one after another, while the
event loop stays free. A cancelled await returns at once: a call still queued never runs,
and the call running on the thread is told through :func:`cancel_event` (an engine that
checks it, as the transformers engine does between decoding steps, stops at the next token
and raises :class:`CallCancelled`; any other finishes) and its result is dropped. Engines
with a native async side (vLLM ``AsyncLLM``, the remote engine) are used as they are.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from grm.inference.base import AsyncEngine, Generation, GenRequest, SamplingConfig

T = TypeVar("T")
_CANCEL: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "grm_engine_cancel", default=None
)


class CallCancelled(RuntimeError):
    """An engine call stopped early because its caller stopped waiting for it."""


def cancel_event() -> threading.Event | None:
    """The event set when the caller of the running engine call stopped waiting (inside a
    :class:`ThreadedEngine` call; None elsewhere). Sync engines may check it to stop early."""
    return _CANCEL.get()


class ThreadedEngine:
    """An :class:`~grm.inference.base.AsyncEngine` over a sync engine: one worker thread."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grm-engine")
        self.interrupted = 0
        """Calls that stopped early (:class:`CallCancelled`) after their caller left."""

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        event = threading.Event()
        ctx = contextvars.copy_context()
        ctx.run(_CANCEL.set, event)

        def call() -> T:
            try:
                return ctx.run(fn, *args)
            except CallCancelled:
                self.interrupted += 1  # one worker thread: no race
                raise

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        except asyncio.CancelledError:
            event.set()  # the running call stops at its next check; its result is dropped
            raise

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        return list(await self._call(self.engine.generate, requests, sampling))

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        return list(await self._call(self.engine.choice_logprobs, prompts, choices))

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        return list(await self._call(self.engine.sequence_logprobs, prompts, candidates))

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
