"""A scripted engine that fails on purpose, for the server's chaos test (pure logic: no model).

Each call draws its fate from a seeded RNG: an exception, a hang far past any deadline, a
slow answer, or a quick one. The async side sleeps with ``asyncio.sleep``, so a cancelled
request really stops waiting, as a vLLM request is aborted.

``hang_on``: a call whose prompt contains this text hangs (the others answer at once), for
tests that need one particular request to hang; a forcing call (``choice_logprobs``,
``sequence_logprobs``) also hangs on ``STALL_FORCED``, so a request can be stopped in its
forced read after its chains were sampled. ``events``: a file where every call appends
``start``, ``done`` or ``cancelled`` (one line each), so a test outside the server process
can see that a request's engine work was really cancelled.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from fake_engine import FakeEngine
from grm.inference.base import Generation, GenRequest, SamplingConfig

_SLOT = re.compile(r"<response_([AB])>\n(.*?)\n</response_\1>", re.S)


def clean(text: str) -> bool:
    """A clean one-line sentence: ends with '.', no newline, no leaked special token."""
    return text.endswith(".") and "\n" not in text and "<|" not in text


#: A prompt with this text hangs only in its forced read (with ``hang_on`` set), and its
#: pointwise chains give no score, so that read happens.
STALL_FORCED = "STALLFORCED"


def verdict_script(prompt: str, i: int) -> str:
    """A pointwise score when asked; else the verdict for the clean response (A on a tie).

    The rule is arbitrary but visible: a test can tell from the verdict whether the server
    handed the judge a response with chat-template debris left in it.
    """
    if "Final Scores" in prompt:
        return "No score given." if STALL_FORCED in prompt else "Looks fine. Final Scores: [[7]]"
    slots = dict(_SLOT.findall(prompt))
    pick = "B" if not clean(slots.get("A", "")) and clean(slots.get("B", "")) else "A"
    return f"{pick} is right. Final verdict: [[{pick}]]"


class FaultEngine(FakeEngine):
    """``FakeEngine`` with an async side that raises, hangs or dawdles at the given rates."""

    def __init__(
        self,
        p_error: float = 0.15,
        p_hang: float = 0.1,
        p_slow: float = 0.3,
        slow_s: tuple[float, float] = (0.2, 1.0),
        hang_s: float = 3600.0,
        seed: int = 0,
        hang_on: str | None = None,
        events: Path | None = None,
    ) -> None:
        super().__init__(verdict_script)
        self.p_error, self.p_hang, self.p_slow = p_error, p_hang, p_slow
        self.slow_s, self.hang_s = slow_s, hang_s
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.aborted = 0
        self.hang_on, self.events = hang_on, events

    def _record(self, event: str) -> None:
        if self.events is not None:
            with self._lock, self.events.open("a") as f:
                f.write(event + "\n")

    async def _fate(self, prompts: Sequence[str] = (), forced: bool = False) -> None:
        self._record("start")
        try:
            await self._delay(prompts, forced)
        except asyncio.CancelledError:
            self._record("cancelled")
            raise
        self._record("done")

    async def _delay(self, prompts: Sequence[str], forced: bool = False) -> None:
        if self.hang_on is not None:
            words = (self.hang_on, STALL_FORCED) if forced else (self.hang_on,)
            if any(w in p for p in prompts for w in words):
                await self._sleep(self.hang_s)
            return
        with self._lock:
            roll, delay = self._rng.random(), self._rng.uniform(*self.slow_s)
        if roll < self.p_error:
            raise RuntimeError("injected engine fault")
        if roll < self.p_error + self.p_hang:
            delay = self.hang_s
        elif roll >= self.p_error + self.p_hang + self.p_slow:
            delay = 0.0
        await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.aborted += 1
            raise

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        await self._fate([r.prompt for r in requests])
        return self.generate(requests, sampling)

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        await self._fate(prompts, forced=True)
        return self.choice_logprobs(prompts, choices)

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        await self._fate(prompts, forced=True)
        return self.sequence_logprobs(prompts, candidates)


def undecided(prompt: str, i: int) -> str:
    """A chain without any verdict: the judge must force one (or abstain)."""
    return "Both answers look plausible; it is hard to say which is better."


class MidRequestFault(FakeEngine):
    """Fails in the middle of a request: its chains are sampled (none carries a verdict), then
    the engine fails while forcing their verdicts (``choice_logprobs`` for pairwise chains,
    ``sequence_logprobs`` for pointwise ones). The judge raises ``EngineError`` with the
    sampled chains in ``.results``: exactly the case that must never become a reward."""

    def __init__(self) -> None:
        super().__init__(undecided)
        self.failures = 0

    def _fail(self) -> None:
        self.failures += 1
        raise RuntimeError("injected engine fault after the chains were sampled")

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        self._fail()
        raise AssertionError("unreachable")

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        self._fail()
        raise AssertionError("unreachable")

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        return self.generate(requests, sampling)

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        return self.choice_logprobs(prompts, choices)

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        return self.sequence_logprobs(prompts, candidates)
