"""A request queue that merges concurrent judge requests into shared engine calls.

Requests from many clients land in one queue; a single worker thread (the only thread that
touches the engine, which is not thread-safe) waits a short window after the first job,
takes whatever else arrived, and judges all jobs of the same kind and settings in ONE
``compare_batch`` / ``score_batch`` / ``rank_batch`` call. This is the request-queue form
of continuous batching (vLLM batches inside its engine the same way, per step): throughput
grows with concurrency instead of requests being served one by one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal

logger = logging.getLogger(__name__)

Kind = Literal["compare", "score", "rank"]


class QueueFull(RuntimeError):
    """More items are waiting than the queue admits (the server answers 429)."""


class Unavailable(RuntimeError):
    """The worker is stopped or failed (the server answers 503)."""


class CountingEngine:
    """Forwards every attribute to an engine and counts its calls (for metrics)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.generate_calls = 0
        self.choice_calls = 0

    def generate(self, requests: Sequence[Any], sampling: Any) -> Any:
        self.generate_calls += 1
        return self._engine.generate(requests, sampling)

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> Any:
        self.choice_calls += 1
        return self._engine.choice_logprobs(prompts, choices)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


@dataclass
class Job:
    """Items of one request with their settings; the future receives one output per item."""

    kind: Kind
    items: list[Any]
    k: Any
    method: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    future: Future[list[Any]] = field(default_factory=Future)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.k, self.method, self.overrides)


@dataclass
class BatchStats:
    batches: int = 0
    jobs: int = 0
    items: int = 0
    calls: int = 0
    failures: int = 0


class Batcher:
    """Owns the judge on one worker thread; ``submit`` is safe from any thread."""

    def __init__(
        self, judge: Any, window_s: float = 0.01, max_batch: int = 128, max_queue: int = 1024
    ) -> None:
        if window_s < 0 or max_batch < 1 or max_queue < 1:
            raise ValueError(
                f"window_s must be >= 0 and max_batch, max_queue >= 1; got {window_s}, "
                f"{max_batch}, {max_queue}."
            )
        self.judge = judge
        self.window_s = window_s
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.stats = BatchStats()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._running = False
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        """Items queued or being judged."""
        return self._pending

    @property
    def alive(self) -> bool:
        return self._running and self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._run, name="grm-batcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._running = False
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(
        self,
        kind: Kind,
        items: Sequence[Any],
        k: Any,
        method: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Future[list[Any]]:
        if not self.alive:
            raise Unavailable("the judge worker is not running; restart the server.")
        with self._lock:
            if self._pending + len(items) > self.max_queue:
                raise QueueFull(
                    f"the queue is full ({self._pending} items waiting, limit {self.max_queue}); "
                    "retry later, send fewer items, or raise --max-queue."
                )
            self._pending += len(items)
        job = Job(kind, list(items), k, method, tuple(sorted((overrides or {}).items())))
        self._queue.put(job)
        return job.future

    def _run(self) -> None:
        while self._running:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            size = len(first.items)
            deadline = time.monotonic() + self.window_s
            while size < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    job = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._running = False
                    break
                batch.append(job)
                size += len(job.items)
            self._process(batch)
        # Fail whatever is still queued so no client waits forever.
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and not job.future.done():
                job.future.set_exception(Unavailable("the server is shutting down."))

    def _process(self, batch: list[Job]) -> None:
        groups: dict[tuple[Any, ...], list[Job]] = defaultdict(list)
        for job in batch:
            groups[job.key].append(job)
        self.stats.batches += 1
        for (kind, k, method, overrides), jobs in groups.items():
            items = [it for j in jobs for it in j.items]
            self.stats.jobs += len(jobs)
            self.stats.items += len(items)
            self.stats.calls += 1
            try:
                out = self._call(kind, items, k, method, dict(overrides))
            except Exception as exc:  # one bad group must not kill the worker
                logger.exception("judge call failed for %d jobs", len(jobs))
                self.stats.failures += 1
                for j in jobs:
                    j.future.set_exception(exc)
            else:
                start = 0
                for j in jobs:
                    j.future.set_result(out[start : start + len(j.items)])
                    start += len(j.items)
            finally:
                with self._lock:
                    self._pending -= len(items)

    def _call(
        self, kind: Kind, items: list[Any], k: Any, method: str | None, overrides: dict[str, Any]
    ) -> list[Any]:
        if kind == "compare":
            return list(self.judge.compare_batch(items, k, **overrides))
        if kind == "score":
            return list(self.judge.score_batch(items, k, **overrides))
        return list(self.judge.rank_batch(items, method or "knockout", k, **overrides))
