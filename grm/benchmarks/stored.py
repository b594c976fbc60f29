"""Readers of stored ``bench_scaling`` reports (``docs/bench_scaling.json`` and the like).

A report is one run (``{"command", "args", "judges": {judge: {set: {...}}}}``) or several
runs keyed by a label (``docs/bench_scaling.json``). Each set holds ``pairs``: per pair its
``kind``, ``label`` and ``chains`` as ``[first, winner, forced]`` rows.

>>> s = {"pairs": [{"kind": "units", "label": 0, "chains": [[0, 0, False], [1, "tie", True]]}]}
>>> chain_records(s)[0][1]
ChainRecord(first=1, winner='tie', forced=True)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grm.eval_metrics import ChainRecord


def runs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One report as ``{"": report}``, a combined report as it is (label -> report)."""
    return {"": data} if "judges" in data else data


def sets(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """``(label or judge, run, set name, set)`` for every judge and set of a report."""
    for label, run in runs(data).items():
        for judge, judge_sets in run["judges"].items():
            for name, s in judge_sets.items():
                yield label or judge, run, name, s


def load_set(spec: str, name: str = "suite") -> dict[str, Any]:
    """The ``name`` set of the report at ``FILE`` or ``FILE:LABEL`` (LABEL: a judge of one
    report, or an entry of a combined report; without it, the first)."""
    path, _, label = spec.partition(":")
    data = json.loads(Path(path).read_text())
    if "judges" in data:
        judges = data["judges"]
        return dict(judges[label][name] if label else next(iter(judges.values()))[name])
    report = data[label] if label else next(iter(data.values()))
    return dict(next(iter(report["judges"].values()))[name])


def chain_records(s: dict[str, Any]) -> list[list[ChainRecord]]:
    """A stored set's chains, per pair, as :class:`~grm.eval_metrics.ChainRecord`."""
    return [[ChainRecord(int(c[0]), c[1], bool(c[2])) for c in p["chains"]] for p in s["pairs"]]


def common_pairs(report: dict[str, Any], judge: str | None, per_kind: int) -> dict[str, Any]:
    """A report's chains and labels on the first ``per_kind`` held-out pairs of each kind.

    Reports of different sizes share these pairs: :func:`grm.benchmarks.data.suite` draws a
    kind's items as one seeded stream, so a smaller set is a prefix of a larger one.
    """
    from grm.benchmarks.data import suite

    args = report["args"]
    kinds, tier = args["kinds"], args["tier"]
    if args["per_kind"] < per_kind:
        raise ValueError(
            f"the report has {args['per_kind']} pairs a kind, fewer than --per-kind {per_kind}."
        )
    name = judge or next(iter(report["judges"]))
    pairs = report["judges"][name]["suite"]["pairs"]

    def key(item: Any) -> tuple[str, tuple[str, ...]]:
        return item[0].prompt, tuple(item[0].responses)

    index = {key(item): i for i, item in enumerate(suite(kinds, args["per_kind"], tier))}
    chains, labels = [], []
    for item in suite(kinds, per_kind, tier):
        pair = pairs[index[key(item)]]
        if pair["label"] != item[1] or pair["kind"] != item[2]:
            raise ValueError(f"the report's pair {index[key(item)]} is not the suite's item.")
        chains.append([ChainRecord(f, w, bool(forced)) for f, w, forced in pair["chains"]])
        labels.append(pair["label"])
    return {"judge": name, "chains": chains, "labels": labels, "max_k": args["max_k"]}


def compare(
    a: dict[str, Any], b: dict[str, Any], ks: list[int], seed: int = 0
) -> list[dict[str, Any]]:
    """Judge A - judge B at each k on the same pairs: the mean paired difference of each
    pair's expected k-chain majority score, with its 95% paired bootstrap interval.

    Raises ValueError when the two sets do not hold the same pairs (kind and label, in order).
    """
    from grm.scaling_metrics import pair_scores_at_k, paired_difference_interval

    key_a = [(q["kind"], q["label"]) for q in a["pairs"]]
    key_b = [(q["kind"], q["label"]) for q in b["pairs"]]
    if key_a != key_b:
        raise ValueError("the two reports do not hold the same pairs (kind and label, in order)")
    labels = [int(y) for _, y in key_a]
    ra, rb = chain_records(a), chain_records(b)
    rows = []
    for k in ks:
        xa = pair_scores_at_k(ra, labels, k, resamples=50, seed=seed)
        xb = pair_scores_at_k(rb, labels, k, resamples=50, seed=seed)
        d, lo, hi = paired_difference_interval(xa, xb, seed=seed)
        rows.append({"k": k, "n": len(labels), "diff": d, "low": lo, "high": hi})
    return rows
