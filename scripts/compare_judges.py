"""Paired accuracy differences between two judges measured on the same pairs.

Reads two bench_scaling.py reports (or one judge's entry of a combined report such as
docs/bench_scaling.json, as ``FILE:LABEL``), checks that they hold the same pairs (kind and
label, in order), and prints judge A - judge B at each k with a 95% paired bootstrap interval
over pairs. A pair's score at k is the expected k-chain majority score (ties 0.5), the same
quantity as bench_scaling.py's curve, so the difference of two curves' points is the mean here.

    .venv/bin/python scripts/compare_judges.py runs/scaling/grpo-lora.json \\
        docs/bench_scaling.json:grm-judge-135m --k 1 16
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def load_set(spec: str, name: str) -> dict[str, Any]:
    """The ``name`` set (e.g. ``suite``) of the report at ``FILE`` or ``FILE:LABEL``."""
    path, _, label = spec.partition(":")
    data = json.loads(Path(path).read_text())
    report = data if "judges" in data else data[label] if label else next(iter(data.values()))
    if label and "judges" in data:
        return report["judges"][label][name]
    return next(iter(report["judges"].values()))[name]


def records(s: dict[str, Any]) -> list[list[Any]]:
    from grm.eval_metrics import ChainRecord

    return [[ChainRecord(int(c[0]), c[1], bool(c[2])) for c in p["chains"]] for p in s["pairs"]]


def main() -> None:
    from grm.scaling_metrics import pair_scores_at_k, paired_difference_interval

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("a", help="FILE or FILE:LABEL")
    p.add_argument("b", help="FILE or FILE:LABEL")
    p.add_argument("--set", default="suite")
    p.add_argument("--k", type=int, nargs="+", default=[1, 16])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    sa, sb = load_set(args.a, args.set), load_set(args.b, args.set)
    key_a = [(q["kind"], q["label"]) for q in sa["pairs"]]
    key_b = [(q["kind"], q["label"]) for q in sb["pairs"]]
    if key_a != key_b:
        raise SystemExit("the two reports do not hold the same pairs (kind and label, in order)")
    labels = [int(y) for _, y in key_a]
    ra, rb = records(sa), records(sb)
    print(f"{args.a} - {args.b}, {len(labels)} pairs")
    for k in args.k:
        xa = pair_scores_at_k(ra, labels, k, resamples=50, seed=args.seed)
        xb = pair_scores_at_k(rb, labels, k, resamples=50, seed=args.seed)
        d, lo, hi = paired_difference_interval(xa, xb, seed=args.seed)
        print(f"  k={k}: {100 * d:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]")


if __name__ == "__main__":
    main()
