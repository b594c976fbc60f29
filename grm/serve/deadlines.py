"""uvicorn's h11 protocol with deadlines for reading a request (a slowloris defence).

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but it has no
deadline for reading a request: a fresh connection that sends nothing, or a request head
or body trickled a byte at a time, holds its connection (and a place under
``limit_concurrency``) for as long as the client likes, so a few hundred such connections
lock every client out (checked against uvicorn 0.54: ``H11Protocol`` arms only the
keep-alive timer, after a response). This subclass adds the two deadlines nginx has as
``client_header_timeout`` and ``client_body_timeout``:

- the request head must be complete within ``header_timeout_s`` of the connection opening,
  or of the first byte of a later request on a kept-alive connection;
- the body must be complete within ``body_timeout_s`` of the head.

When one passes, the client gets ``408 Request Timeout`` (unless an answer has started) and
the connection is closed; an app still reading the body sees ``http.disconnect``. The
deadlines are totals, not per-read idle timers, so trickling bytes does not extend them.
It reads h11's connection state (``their_state``) after each chunk, the same state uvicorn
itself drives; everything else is uvicorn's own code.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger(__name__)

TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: 33\r\n\r\nthe request was not sent in time.\n"
)


class DeadlineH11Protocol(H11Protocol):
    """``H11Protocol`` plus a head and a body deadline (set on a subclass by
    :func:`deadline_protocol`)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._follow()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _wanted(self) -> str | None:
        """Which deadline applies now: 'head', 'body' or none."""
        if self.transport is None or self.transport.is_closing():
            return None
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            return "body"
        if state is not h11.IDLE:
            return None  # the request is read; the app's own deadline takes over
        if self.timeout_keep_alive_task is not None:
            return None  # idle between requests: uvicorn's keep-alive timer applies
        if self.cycle is not None and not self.cycle.response_complete:
            return None  # answering the previous request
        return "head"

    def _follow(self) -> None:
        wanted = self._wanted()
        if wanted == self._phase:
            return
        self._disarm()
        if wanted is not None:
            delay = self.header_timeout_s if wanted == "head" else self.body_timeout_s
            self._deadline = self.loop.call_later(delay, self._expired, wanted)
            self._phase = wanted

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._phase = None, None

    def _expired(self, phase: str) -> None:
        self._deadline, self._phase = None, None
        if self._wanted() != phase:
            return
        limit = self.header_timeout_s if phase == "head" else self.body_timeout_s
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        logger.warning("closing %s: request %s not received within %g s", client, phase, limit)
        if self.cycle is None or not self.cycle.response_started or phase == "head":
            self.transport.write(TIMEOUT_ANSWER)
        self.transport.close()


def deadline_protocol(header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    """A :class:`DeadlineH11Protocol` class with these deadlines, for ``uvicorn.run(http=...)``."""
    return type(
        "GrmH11Protocol",
        (DeadlineH11Protocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )
