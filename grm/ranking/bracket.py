"""Pairing logic for a knockout bracket and a round-robin schedule. Pure functions.

A knockout over N candidates plays N-1 games in ceil(log2 N) rounds: each round pairs the
candidates still in, and with an odd count one of them gets a bye (RRM, Guo et al. 2025,
ranks many candidates this way). A bye goes to a candidate that has not had one yet, so no
candidate reaches the final on byes alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

Pair = tuple[int, int]


def knockout_rounds(n: int) -> int:
    """Rounds a knockout of ``n`` candidates takes: ``ceil(log2 n)`` (0 for one candidate).

    >>> [knockout_rounds(n) for n in (1, 2, 3, 5, 8, 9)]
    [0, 1, 2, 3, 3, 4]
    """
    if n < 1:
        raise ValueError(f"a knockout needs at least one candidate, got {n}.")
    return math.ceil(math.log2(n)) if n > 1 else 0


def pair_round(alive: Sequence[int], had_bye: set[int]) -> tuple[list[Pair], int | None]:
    """Pair the candidates still in, in order; with an odd count one sits out (a bye).

    The bye goes to the last candidate in ``alive`` that has not had one (the last one if
    all have).

    >>> pair_round([4, 1, 3], set())
    ([(4, 1)], 3)
    >>> pair_round([4, 1, 3], {3})
    ([(4, 3)], 1)
    """
    players = list(alive)
    bye = None
    if len(players) % 2 == 1:
        fresh = [c for c in players if c not in had_bye]
        bye = fresh[-1] if fresh else players[-1]
        players.remove(bye)
    return [(players[i], players[i + 1]) for i in range(0, len(players), 2)], bye


def next_alive(pairs: Sequence[Pair], winners: Sequence[int], bye: int | None) -> list[int]:
    """Who plays the next round: the winners in bracket order, the bye holder first.

    Putting the bye holder first keeps it away from the next bye slot (the end of the list).
    """
    for (a, b), w in zip(pairs, winners, strict=True):
        if w not in (a, b):
            raise ValueError(f"winner {w} did not play in pair ({a}, {b}).")
    return ([bye] if bye is not None else []) + list(winners)


def round_robin_pairs(n: int, max_pairs: int | None = None, seed: int = 0) -> list[Pair]:
    """All ``n(n-1)/2`` pairs, or a seeded subset of ``max_pairs`` that keeps the graph connected.

    The subset starts from a random Hamiltonian cycle (every candidate plays twice, all are
    compared through some chain of games, so Bradley-Terry ratings are identified) and adds
    random other pairs up to ``max_pairs``.
    """
    everything = list(itertools.combinations(range(n), 2))
    if max_pairs is None or max_pairs >= len(everything):
        return everything
    need = n if n > 2 else len(everything)
    if max_pairs < need:
        raise ValueError(
            f"max_pairs={max_pairs} cannot connect {n} candidates; use at least {need} "
            "(or None for every pair)."
        )
    rng = np.random.default_rng(seed)
    perm = [int(x) for x in rng.permutation(n)]
    chosen = {tuple(sorted((perm[i], perm[(i + 1) % n]))) for i in range(n)}
    rest = [p for p in everything if p not in chosen]
    for idx in rng.permutation(len(rest))[: max_pairs - len(chosen)]:
        chosen.add(rest[int(idx)])
    return sorted((int(a), int(b)) for a, b in chosen)
