"""A progress bar for long runs: items done, chains sampled, chains per second (tqdm).

``grm eval``, ``grm label``, ``grm rank`` and ``RewardModel.compare_batch(progress=True)``
report through :class:`ChainProgress`. The bar goes to stderr. ``progress`` is a tri-state:
``None`` shows it only when stderr is a terminal (tqdm's own rule), ``True`` forces it (a
log file, a notebook), ``False`` hides it. Items are what the run counts (pairs, rows);
chains are what the judge sampled for them, the unit of work that test-time scaling buys.

>>> import io
>>> out = io.StringIO()
>>> ticks = iter([0.0, 2.0])  # the clock at the start, then at the update
>>> with ChainProgress(4, "demo", "pair", True, file=out, clock=lambda: next(ticks)) as bar:
...     bar.update(4, chains=32)
>>> "4/4" in out.getvalue() and "32 chains, 16.0 chains/s" in out.getvalue()
True
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO

from tqdm.auto import tqdm

#: None: on when stderr is a terminal; True: always; False: never.
Progress = bool | None


class ChainProgress:
    """A tqdm bar over ``total`` items whose postfix is the chain count and chains/s.

    ``clock`` (seconds, default ``time.perf_counter``) measures the chain rate from the
    bar's creation; tests pass their own.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        unit: str,
        progress: Progress = None,
        file: IO[str] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.clock = clock
        self.start = clock()
        self.chains = 0
        self.items = 0
        # An explicit ``disable`` also overrides TQDM_DISABLE, which the quiet CLI sets for
        # the libraries' own bars.
        self.bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            file=file if file is not None else sys.stderr,
            disable=None if progress is None else not progress,
            dynamic_ncols=True,
        )

    @property
    def chains_per_second(self) -> float:
        elapsed = self.clock() - self.start
        return self.chains / elapsed if elapsed > 0 else 0.0

    def update(self, items: int, chains: int) -> None:
        """``items`` more done, for which the judge sampled ``chains`` chains."""
        self.items += items
        self.chains += chains
        rate = self.chains_per_second
        self.bar.set_postfix_str(f"{self.chains} chains, {rate:.1f} chains/s", refresh=False)
        self.bar.update(items)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> ChainProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
