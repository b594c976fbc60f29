"""Stop cleanly on SIGTERM, SIGINT and SIGHUP, so a vLLM engine's processes go with grm.

Python's default SIGTERM and SIGHUP actions end the process at once: no ``finally`` runs, no
engine is shut down, and vLLM's engine-core process (started with ``spawn``) is re-parented
to init and keeps its memory (about 4.5 GB with the embedded model). Ctrl-C only looked clean
because the terminal sends SIGINT to the whole process group. Here SIGTERM and SIGHUP raise
``SystemExit(128 + signal)`` in the main thread, as SIGINT raises KeyboardInterrupt: the
command's ``finally`` blocks close its engine, and vLLM's own exit hooks stop what is left.
``grm serve`` lets uvicorn shut down gracefully on SIGTERM / SIGINT (it re-raises the signal
afterwards) and relays SIGHUP to that path.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

#: Signals turned into SystemExit (SIGHUP where the platform has it).
EXIT_SIGNALS = tuple(
    s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def exit_on_signals() -> Iterator[None]:
    """SIGTERM / SIGHUP raise SystemExit inside the block (main thread only; elsewhere a
    no-op, since Python installs signal handlers only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    for sig in EXIT_SIGNALS:
        previous[sig] = signal.signal(sig, _exit)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _relay_to_sigterm(signum: int, frame: FrameType | None) -> None:
    os.kill(os.getpid(), signal.SIGTERM)


@contextmanager
def hangup_as_terminate() -> Iterator[None]:
    """SIGHUP sends this process SIGTERM, which uvicorn handles with a graceful shutdown."""
    hup = getattr(signal, "SIGHUP", None)
    if hup is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(hup, _relay_to_sigterm)
    try:
        yield
    finally:
        signal.signal(hup, previous)
