"""Paired accuracy differences between two judges measured on the same pairs.

Reads two bench_scaling.py reports (or one judge's entry of a combined report such as
docs/bench_scaling.json, as ``FILE:LABEL``), checks that they hold the same pairs (kind and
label, in order), and prints judge A - judge B at each k with a 95% paired bootstrap interval
over pairs. A pair's score at k is the expected k-chain majority score (ties 0.5), the same
quantity as bench_scaling.py's curve, so the difference of two curves' points is the mean here.

    .venv/bin/python scripts/compare_judges.py runs/scaling/grpo-lora.json \\
        docs/bench_scaling.json:grm-judge-135m --k 1 16

``--record NAME`` writes the differences to docs/records/NAME.json (a table of
docs/benchmarks.md is rendered from it).
"""

from __future__ import annotations

import argparse

from grm.benchmarks.cli import add_common
from grm.benchmarks.record import Run
from grm.benchmarks.scaling_report import ci
from grm.benchmarks.stored import compare, load_set


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("a", help="FILE or FILE:LABEL")
    p.add_argument("b", help="FILE or FILE:LABEL")
    p.add_argument("--set", default="suite")
    p.add_argument("--k", type=int, nargs="+", default=[1, 16])
    add_common(p, "seed", "record")
    p.add_argument("--title", default=None, help="the record's row name (default: A - B)")
    args = p.parse_args()

    try:
        rows = compare(load_set(args.a, args.set), load_set(args.b, args.set), args.k, args.seed)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    print(f"{args.a} - {args.b}, {rows[0]['n']} pairs")
    for r in rows:
        print(f"  k={r['k']}: {ci(r, 'diff', sign=True)}")
    if args.record:
        args.title = args.title or f"{args.a} - {args.b}"
        run = Run(args.record, "compare_judges", vars(args))
        run.figures["rows"] = rows
        print("record:", run.save())


if __name__ == "__main__":
    main()
