"""Accuracy versus k on held-out pairs, and adaptive k on the same chains.

:func:`judge_set` samples ``max_k`` position-balanced chains per pair in batched passes and
reads from them: accuracy at k = 1, 2, 4, ..., max_k (each pair's expected k-chain majority
score, ties 0.5, with a percentile-bootstrap interval over pairs) overall and per task kind,
the gain accuracy(max_k) - accuracy(1) with a paired interval, per-chain accuracy and the
intra-class correlation of chain correctness, every stopping rule replayed in plan order,
and optionally one real ``k="auto"`` run as a check of the replay. The report's fields are
those ``docs/bench_scaling.json`` holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from grm.aggregation import majority_vote
from grm.benchmarks.record import Run
from grm.benchmarks.replay import cheapest_within, plan_ordered, replay_rules
from grm.eval_metrics import ChainRecord, ks_up_to, rb_score
from grm.evaluation import record_winner
from grm.scaling_metrics import (
    bootstrap_interval,
    chain_error_correlation,
    pair_scores_at_k,
    paired_difference_interval,
)


def curve(
    chains: Sequence[Sequence[ChainRecord]], labels: Sequence[int], ks: list[int], seed: int
) -> dict[str, Any]:
    """Accuracy at each k with its 95% interval, and the paired gain from ks[0] to ks[-1]."""
    per_k = {k: pair_scores_at_k(chains, labels, k, resamples=50, seed=seed) for k in ks}
    out: dict[str, Any] = {"n": len(labels), "points": []}
    for k in ks:
        lo, hi = bootstrap_interval(per_k[k], seed=seed)
        out["points"].append(
            {"k": k, "accuracy": sum(per_k[k]) / len(per_k[k]), "low": lo, "high": hi}
        )
    d, lo, hi = paired_difference_interval(per_k[ks[-1]], per_k[ks[0]], seed=seed)
    out["gain"] = {"from": ks[0], "to": ks[-1], "diff": d, "low": lo, "high": hi}
    return out


def chain_stats(chains: Sequence[Sequence[ChainRecord]], labels: Sequence[int]) -> dict[str, float]:
    """Per-chain accuracy, the share of chains with no winner, and the error correlation."""
    correct = [
        [1.0 if c.winner == y else 0.0 for c in cs if isinstance(c.winner, int)]
        for cs, y in zip(chains, labels, strict=True)
    ]
    flat = [x for cs in correct for x in cs]
    total = sum(len(cs) for cs in chains)
    return {
        "chain_accuracy": sum(flat) / len(flat) if flat else float("nan"),
        "abstain_or_tie_rate": 1 - len(flat) / total if total else float("nan"),
        "error_correlation": chain_error_correlation(correct),
    }


def parse_rule(spec: str) -> tuple[str, int, float]:
    """``RULE:WAVE:CONFIDENCE`` -> its parts (the ``--auto-rule`` syntax)."""
    try:
        rule, wave, conf = spec.split(":")
        return rule, int(wave), float(conf)
    except ValueError:
        raise ValueError(f"--auto-rule takes RULE:WAVE:CONFIDENCE or best, got {spec!r}.") from None


def judge_set(
    rm: Any,
    items: Sequence[tuple[Any, int, str]],
    *,
    max_k: int,
    batch_size: int,
    seed: int,
    waves: Sequence[int] = (1, 2, 4),
    confidences: Sequence[float] = (0.8, 0.9, 0.95),
    auto_rule: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """One judge (a :class:`grm.RewardModel`) on ``(request, label, kind)`` items."""
    reqs = [r for r, _, _ in items]
    labels = [y for _, y, _ in items]
    kinds = [g for _, _, g in items]
    cfg = rm.config.with_(k=max_k, max_k=max_k)
    records, ordered = [], []
    chains_done, forced, tokens = 0, 0, 0
    t0 = time.perf_counter()
    for lo in range(0, len(reqs), batch_size):
        batch = reqs[lo : lo + batch_size]
        results = rm.compare_batch(batch, k=max_k)
        for i, r in enumerate(results):
            records.append(
                [ChainRecord(c.order[0], record_winner(c.judgment), c.forced) for c in r.chains]
            )
            ordered.append(plan_ordered(r, i, cfg))
            forced += r.forced
            tokens += r.completion_tokens
        chains_done += max_k * len(batch)
        if progress:
            rate = chains_done / (time.perf_counter() - t0)
            progress(f"  {lo + len(batch)}/{len(reqs)} pairs, {rate:.1f} chains/s")
    seconds = time.perf_counter() - t0
    ks = ks_up_to(max_k)
    out: dict[str, Any] = {
        "n": len(items),
        "seconds": seconds,
        "chains_per_second": chains_done / seconds,
        "completion_tokens": tokens,
        "forced_rate": forced / chains_done,
        "overall": curve(records, labels, ks, seed),
        "chains": chain_stats(records, labels),
        "by_kind": {},
        "pairs": [
            {"kind": g, "label": y, "chains": [[c.first, c.winner, c.forced] for c in cs]}
            for cs, y, g in zip(records, labels, kinds, strict=True)
        ],
    }
    for kind in sorted(set(kinds)):
        idx = [i for i, g in enumerate(kinds) if g == kind]
        sub_c, sub_y = [records[i] for i in idx], [labels[i] for i in idx]
        out["by_kind"][kind] = {**curve(sub_c, sub_y, ks, seed), **chain_stats(sub_c, sub_y)}

    votes = [[c.judgment for c in ch] for ch in ordered]
    # The bayes rule replays under the judge's own vote prior (its card's), as k="auto" runs.
    out["replayed"] = replay_rules(
        votes, labels, waves, confidences, max_k, seed, prior=rm.config.vote_prior
    )
    if auto_rule == "best" and out["replayed"]:
        # The cheapest replayed rule within 0.5 points of fixed max_k, else the most accurate.
        top = out["overall"]["points"][-1]["accuracy"]
        pick = cheapest_within(out["replayed"], top) or max(
            out["replayed"], key=lambda r: r["accuracy"]
        )
        auto_rule = f"{pick['rule']}:{pick['wave_size']}:{pick['confidence']}"
    if auto_rule and auto_rule != "best":
        out["auto_run"] = auto_run(rm, reqs, labels, votes, auto_rule, max_k, seed)
    return out


def auto_run(
    rm: Any,
    reqs: Sequence[Any],
    labels: Sequence[int],
    votes: Sequence[Sequence[Any]],
    spec: str,
    max_k: int,
    seed: int,
) -> dict[str, Any]:
    """A real ``k="auto"`` run with one rule, against the fixed run's k=max_k votes on the
    same pairs (two independent samples)."""
    rule, wave, conf = parse_rule(spec)
    t0 = time.perf_counter()
    auto = rm.compare_batch(
        reqs, k="auto", max_k=max_k, stopping=rule, wave_size=wave, confidence=conf
    )
    acc = [rb_score(r.winner, y) for r, y in zip(auto, labels, strict=True)]
    lo, hi = bootstrap_interval(acc, seed=seed)
    fixed = [rb_score(majority_vote(v, 2).winner, y) for v, y in zip(votes, labels, strict=True)]
    d, dlo, dhi = paired_difference_interval(acc, fixed, seed=seed)
    used = sum(r.k_used for r in auto)
    return {
        "rule": rule,
        "wave_size": wave,
        "confidence": conf,
        "accuracy": sum(acc) / len(acc),
        "low": lo,
        "high": hi,
        "minus_max_k": {"diff": d, "low": dlo, "high": dhi},
        "chains": used,
        "share": used / (max_k * len(reqs)),
        "seconds": time.perf_counter() - t0,
    }


def record_set(run: Run, report: dict[str, Any], model: str, name: str, res: dict) -> None:
    """One judge's set into the run record: accuracy at each k with n and interval, the
    forced share, the pairs' chains as raw items, and the report without them."""
    for pt in res["overall"]["points"]:
        fig = {"mean": pt["accuracy"], "n": res["n"], "low": pt["low"], "high": pt["high"]}
        run.figures[f"{model}/{name}/accuracy@k={pt['k']}"] = fig
    run.figures[f"{model}/{name}/forced_rate"] = {"mean": res["forced_rate"], "n": res["n"]}
    run.items.append({"judge": model, "set": name, "pairs": res["pairs"]})
    run.data["report"] = {
        j: {s: {k: v for k, v in r.items() if k != "pairs"} for s, r in sets.items()}
        for j, sets in report["judges"].items()
    }


def training_point(
    label: str, minutes: float, data: dict[str, Any], seed: int = 0
) -> dict[str, Any]:
    """One point of the training figure: accuracy at k=1 and k=max_k with 95% intervals on
    :func:`grm.benchmarks.stored.common_pairs`' chains."""
    out: dict[str, Any] = {"label": label, "minutes": minutes, "n": len(data["labels"])}
    for k in (1, data["max_k"]):
        scores = pair_scores_at_k(data["chains"], data["labels"], k, resamples=50, seed=seed)
        lo, hi = bootstrap_interval(scores, seed=seed)
        out[f"k{k}"] = {"accuracy": sum(scores) / len(scores), "low": lo, "high": hi}
    return out
