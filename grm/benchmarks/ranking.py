"""Ranking methods side by side on verifiable candidate groups (``scripts/bench_ranking.py``).

Each group is a sum question with N candidates, exactly one right
(:func:`grm.benchmarks.data.rank_group`); top-1 accuracy is the share of groups whose
best-ranked candidate is the right one (chance 1/N). Groups are ranked one at a time so
seconds and chains are per group and comparable across methods.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from grm.benchmarks.record import Run, figure

PER_GROUP = ("chains", "comparisons", "rounds", "tokens", "tiebreaks")


def rank_method(
    rm: Any, method: str, groups: Sequence[tuple[Any, int]], k: int, cfg: Any, run: Run
) -> dict[str, Any]:
    """One method on every group: top-1, the cost per group, and its per-group hits in
    ``run`` (a figure with its interval, and the raw hits)."""
    from tqdm import tqdm

    start = time.perf_counter()
    ranks = [
        rm.rank_batch([item], method, k, cfg)[0]
        for item, _ in tqdm(groups, desc=method, leave=False)
    ]
    wall = time.perf_counter() - start
    hits = [float(r.best == truth) for r, (_, truth) in zip(ranks, groups, strict=True)]
    row: dict[str, Any] = {"method": method, "top1": sum(hits) / len(hits)}
    for name in PER_GROUP:
        row[f"{name}_per_group"] = sum(getattr(r, name) for r in ranks) / len(ranks)
    chains = sum(r.chains for r in ranks)
    row["forced_share"] = sum(x.forced for r in ranks for x in r.results) / max(chains, 1)
    row["seconds_per_group"] = wall / len(ranks)
    run.figures[f"{method}/top1"] = figure(hits, cfg.seed)
    run.items.append({"method": method, "hits": hits})
    return row


def table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| method | top-1 | chains/group | comparisons | rounds | tokens/group | "
        "tie-breaks | forced | s/group |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['top1']:.2f} | {r['chains_per_group']:.1f} | "
            f"{r['comparisons_per_group']:.1f} | {r['rounds_per_group']:.1f} | "
            f"{r['tokens_per_group']:.0f} | {r['tiebreaks_per_group']:.1f} | "
            f"{r['forced_share']:.2f} | {r['seconds_per_group']:.1f} |"
        )
    return "\n".join(lines)
