"""Sync judging code on worker threads, its engine calls awaited on the async engine.

Compare and score requests await the wave driver on the event loop directly
(:meth:`grm.RewardModel.acompare_batch`). Ranking (knockout rounds, round robin) is written
against the sync engine face, so the server runs a rank request on a worker thread
with a :class:`BridgeEngine` as its engine: every engine operation (grm.engine_ops) is
scheduled on the server's event loop as an ``await`` on the async engine and the thread
waits for it. So every request's chains reach the engine the moment it asks for them, and
the engine batches all requests in flight (vLLM's continuous batching in ``AsyncLLM``);
nothing is merged by hand, and one request's failure stays its own.

A request past its deadline, or whose client went away, is cancelled: its pending engine
awaits are cancelled (vLLM aborts them and frees their KV cache) and any later engine call
of that request fails at once, so its thread ends promptly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import copy
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from grm.engine_ops import ChoiceLogprobs, EngineOp, Generate, SequenceLogprobs, aexecute
from grm.inference.aio import as_async
from grm.inference.base import AsyncEngine, Generation, GenRequest, SamplingConfig

T = TypeVar("T")


class RequestCancelled(RuntimeError):
    """The request passed its deadline or its client left; its engine work was aborted."""


class Ticket:
    """The engine calls in flight for one request, to cancel them together."""

    def __init__(self) -> None:
        self.cancelled = False
        self._futures: set[concurrent.futures.Future[Any]] = set()
        self._lock = threading.Lock()

    def add(self, fut: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._futures.add(fut)
            cancel = self.cancelled
        if cancel:
            fut.cancel()

    def discard(self, fut: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._futures.discard(fut)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            pending = list(self._futures)
        for fut in pending:
            fut.cancel()


_TICKET: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("grm_ticket", default=None)


class BridgeEngine:
    """The sync engine face for worker threads; each call is awaited on the event loop.

    Everything else (``render_chat``, ``count_tokens``, ``max_context``, ``name``) comes from
    the wrapped engine. Calls are counted where they are awaited: the server passes its
    counting ``aengine``.
    """

    def __init__(
        self,
        engine: Any,
        loop: asyncio.AbstractEventLoop,
        aengine: AsyncEngine | None = None,
    ) -> None:
        self._engine = engine
        self._aengine = aengine or as_async(engine)
        self._loop = loop

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        ticket = _TICKET.get()
        if ticket is not None and ticket.cancelled:
            coro.close()
            raise RequestCancelled("the request was cancelled; its engine work was aborted.")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        if ticket is not None:
            ticket.add(fut)
        try:
            return fut.result()
        except concurrent.futures.CancelledError:
            raise RequestCancelled(
                "the request was cancelled; its engine work was aborted."
            ) from None
        finally:
            if ticket is not None:
                ticket.discard(fut)

    def _op(self, op: EngineOp) -> Any:
        return self._call(aexecute(self._aengine, op))

    # Every engine operation of grm.engine_ops, each awaited on the loop (so cancelled with
    # its request and counted); none falls through __getattr__ to the wrapped engine.
    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        return self._op(Generate(list(requests), sampling))

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        return self._op(ChoiceLogprobs(list(prompts), tuple(choices)))

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        return self._op(SequenceLogprobs(list(prompts), tuple(candidates)))

    def close(self) -> None:
        """The wrapped engine belongs to the caller; closing the bridge leaves it open."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class Runner:
    """Runs one request's judging on a worker thread, under a deadline, cancellable."""

    def __init__(self, judge: Any, loop: asyncio.AbstractEventLoop, workers: int, **bridge: Any):
        self.source = judge
        # A shallow copy: the served judge talks to the bridge; the caller's judge keeps its
        # own engine for offline use.
        self.judge = copy.copy(judge)
        self.judge.engine = BridgeEngine(judge.engine, loop, **bridge)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grm-request")

    async def run(self, fn: Callable[..., T], /, *args: Any, **kw: Any) -> T:
        """``fn(self.judge, *args, **kw)`` on a worker thread. Cancelling this (a deadline
        from ``asyncio.wait_for``, a client gone) aborts the request's engine work."""
        ticket = Ticket()
        ctx = contextvars.copy_context()
        ctx.run(_TICKET.set, ticket)
        call = functools.partial(ctx.run, fn, self.judge, *args, **kw)
        future = asyncio.get_running_loop().run_in_executor(self.pool, call)
        try:
            return await future
        except BaseException:
            ticket.cancel()  # timeout, client gone, or shutdown: abort its engine work
            raise

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
