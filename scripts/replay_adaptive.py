"""Replay adaptive k's stopping rules on the chains a bench_scaling.py report already holds.

A ``k="auto"`` run is a prefix of the chains a fixed ``k = max_k`` run would draw, in the
same plan order (position-balanced, seeded per request), so every rule, wave size and
confidence can be compared on one set of chains without sampling again
(:func:`grm.adaptive.replay_prefix`). For each setting it reports the accuracy (RewardBench's
rule: ties 0.5) with a 95% bootstrap interval, the chains used as a share of ``max_k`` per
pair, and the paired difference against fixed ``k = max_k`` on the same pairs with its
bootstrap interval.

    .venv/bin/python scripts/replay_adaptive.py docs/bench_scaling.json \\
        --waves 1 2 4 --confidences 0.8 0.9 0.95

rewrites each suite's ``replayed`` list in the report (``--out`` writes elsewhere), prints
the Markdown table and, with ``--plot``, redraws the scaling plot from the report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def judgment_of(winner: int | str | None) -> Any:
    """A stored chain vote (an index, ``'tie'`` or None) as a :class:`grm.types.Judgment`."""
    from grm.types import Judgment

    if winner is None:
        return Judgment()
    if winner == "tie":
        return Judgment(tie=True)
    return Judgment(winner=int(winner))


def plan_ordered_votes(
    pairs: Sequence[dict[str, Any]], max_k: int, seed: int, batch_size: int
) -> list[list[Any]]:
    """Each stored pair's chain votes in the order ``plan_orders`` drew them.

    bench_scaling.py calls ``compare_batch`` on ``batch_size`` pairs at a time, so a pair's
    order seed is ``(seed, its index within the batch)``; within one response order the
    chains are exchangeable and keep their stored order.
    """
    from grm.config import JudgeConfig
    from grm.judge import plan_orders

    cfg = JudgeConfig(seed=seed)
    out = []
    for i, pair in enumerate(pairs):
        pools: dict[int, list[Any]] = {0: [], 1: []}
        for first, winner, *_ in pair["chains"]:
            pools[int(first)].append(judgment_of(winner))
        plan = plan_orders("pairwise", 2, 0, max_k, (seed, i % batch_size), cfg)
        out.append([pools[order[0]].pop(0) for order in plan])
    return out


def replay_rules(
    ordered: Sequence[Sequence[Any]],
    labels: Sequence[int],
    waves: Sequence[int],
    confidences: Sequence[float],
    max_k: int,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every registered rule but ``fixed``, replayed for each wave size and confidence."""
    from grm.adaptive import replay_prefix
    from grm.aggregation import majority_vote
    from grm.eval_metrics import rb_score
    from grm.scaling_metrics import bootstrap_interval, paired_difference_interval
    from grm.stopping import stopping_rule_names

    full = [
        rb_score(majority_vote(ch[:max_k], 2).winner, y)
        for ch, y in zip(ordered, labels, strict=True)
    ]
    rows = []
    for wave in waves:
        for conf in confidences:
            for rule in stopping_rule_names():
                if rule == "fixed":
                    continue
                used = [replay_prefix(ch, 2, rule, wave, conf, max_k) for ch in ordered]
                acc = [
                    rb_score(majority_vote(ch[:m], 2).winner, y)
                    for ch, m, y in zip(ordered, used, labels, strict=True)
                ]
                lo, hi = bootstrap_interval(acc, seed=seed)
                d, dlo, dhi = paired_difference_interval(acc, full, seed=seed)
                rows.append(
                    {
                        "rule": rule,
                        "wave_size": wave,
                        "confidence": conf,
                        "accuracy": sum(acc) / len(acc),
                        "low": lo,
                        "high": hi,
                        "minus_max_k": {"diff": d, "low": dlo, "high": dhi},
                        "chains": sum(used),
                        "share": sum(used) / (max_k * len(ordered)),
                    }
                )
    return rows


def cheapest_within(rows: Sequence[dict[str, Any]], top: float, points: float = 0.5) -> Any:
    """The replayed setting with the fewest chains whose accuracy is within ``points`` of
    ``top`` (fixed max_k), or None."""
    near = [r for r in rows if r["accuracy"] >= top - points / 100]
    return min(near, key=lambda r: r["share"]) if near else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("report", help="a bench_scaling.py JSON report")
    p.add_argument("--waves", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--confidences", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    p.add_argument("--out", default=None, help="where to write (default: the report itself)")
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    data = json.loads(Path(args.report).read_text())
    # One bench_scaling.py report, or several keyed by a label (docs/bench_scaling.json).
    reports = {"": data} if "judges" in data else data
    combined: dict[str, Any] = {"judges": {}}
    for label, report in reports.items():
        run_args = report["args"]
        max_k = int(run_args["max_k"])
        for judge, sets in report["judges"].items():
            combined["judges"][label or judge] = sets
            for name, s in sets.items():
                if not s.get("pairs") or name == "judgebench":
                    continue
                ordered = plan_ordered_votes(
                    s["pairs"], max_k, int(run_args["seed"]), int(run_args["batch_size"])
                )
                labels = [int(pair["label"]) for pair in s["pairs"]]
                s["replayed"] = replay_rules(
                    ordered, labels, args.waves, args.confidences, max_k, int(run_args["seed"])
                )
                print_rows(label or judge, name, s, max_k)
    # Compact: the report holds every chain of every pair.
    Path(args.out or args.report).write_text(json.dumps(data, separators=(",", ":")))
    if args.plot:
        from bench_scaling import plot

        plot(combined, Path(args.plot))


def print_rows(judge: str, name: str, s: dict[str, Any], max_k: int) -> None:
    top = s["overall"]["points"][-1]["accuracy"]
    best = cheapest_within(s["replayed"], top)
    print(f"# {judge} on {name}: k={max_k} {100 * top:.1f}")
    for r in s["replayed"]:
        d = r["minus_max_k"]
        mark = "  <- cheapest within 0.5 points" if r is best else ""
        print(
            f"  {r['rule']:<10} wave {r['wave_size']} conf {r['confidence']:.2f}: "
            f"{100 * r['accuracy']:.1f} [{100 * r['low']:.1f}, {100 * r['high']:.1f}], "
            f"minus k={max_k} {100 * d['diff']:+.1f} "
            f"[{100 * d['low']:+.1f}, {100 * d['high']:+.1f}], "
            f"{100 * r['share']:.0f}% of the chains{mark}"
        )


if __name__ == "__main__":
    main()
