"""Cost-aware admission: requests are admitted by the chains they will sample, not by count.

A compare with k chains costs k; a pointwise score of any number of responses costs k
(every chain scores them all); a rank costs the pairwise games its method plays times k
(round robin n(n-1)/2, knockout n-1) or k for the listwise pointwise method. ``k="auto"``
is charged its ceiling, the judge's ``max_k`` (where the adaptive loop stops). The server
refuses a request costing more than one request may (413) and answers 429 with
``Retry-After`` while the admitted chains would pass the limit.
"""

from __future__ import annotations

import math


def request_chains(mode: str, n_responses: int, k: int, method: str | None = None) -> int:
    """Chains one judgment costs at most (``k`` is the per-judgment ceiling).

    >>> request_chains("compare", 2, 4)
    4
    >>> request_chains("rank", 5, 4, "round_robin")
    40
    >>> request_chains("rank", 5, 4, "knockout")
    16
    """
    if mode in ("compare", "score"):
        return k
    if method == "pointwise":
        return k
    if method == "knockout":
        return max(n_responses - 1, 1) * k
    # Round robin, and the bound for any other pairwise method.
    return max(math.comb(n_responses, 2), 1) * k


class Admission:
    """Chains admitted at once. Used from the event loop only (no lock needed)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}.")
        self.capacity = capacity
        self.in_flight = 0

    def try_admit(self, cost: int) -> bool:
        if self.in_flight + cost > self.capacity:
            return False
        self.in_flight += cost
        return True

    def release(self, cost: int) -> None:
        self.in_flight = max(self.in_flight - cost, 0)
