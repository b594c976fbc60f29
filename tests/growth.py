"""Linear time, tested by growth rather than by a wall-clock bound.

A bound in seconds fails on a loaded machine and passes a quadratic scan on a fast one. The
ratio of the time at size 8n to the time at size n does neither: a linear step grows ~8x,
a quadratic one ~64x, whatever the machine's speed. Each size is timed as the best of a few
runs, the two sizes interleaved so a burst of load hits both, and a failing ratio is measured
again (up to ``tries`` times) before it counts: a quadratic step fails every try.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The larger input is GROWTH times the smaller.
GROWTH = 8
#: 3x the linear ratio (8), well under the quadratic one (64).
LIMIT = 24.0


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def growth_ratio(
    make: Callable[[int], Callable[[], object]], n: int, repeats: int = 3, tries: int = 3
) -> tuple[float, float, float]:
    """(time at GROWTH * n / time at n, seconds at n, seconds at GROWTH * n), the best try.

    ``make(size)`` builds the input of that size and returns the step to time on it.
    """
    small, large = make(n), make(GROWTH * n)
    small()  # warm caches (compiled regexes, imports) outside the timing
    best = (float("inf"), 0.0, 0.0)
    for _ in range(tries):
        t_small, t_large = float("inf"), float("inf")
        for _ in range(repeats):
            t_small = min(t_small, _seconds(small))
            t_large = min(t_large, _seconds(large))
        ratio = t_large / max(t_small, 1e-9)
        best = min(best, (ratio, t_small, t_large))
        if ratio < LIMIT:
            break
    return best


def assert_linear(make: Callable[[int], Callable[[], object]], n: int, what: object = "") -> None:
    """Fail when the step grows faster than linear from size n to GROWTH * n."""
    ratio, t_small, t_large = growth_ratio(make, n)
    assert ratio < LIMIT, (
        f"{what}: {GROWTH}x the input took {ratio:.1f}x the time ({t_small * 1e3:.2f} ms -> "
        f"{t_large * 1e3:.2f} ms); linear is ~{GROWTH}x, quadratic ~{GROWTH**2}x"
    )
