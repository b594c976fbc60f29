"""Held-out accuracy at k=1 and k=max against training time, from ``bench_scaling.py`` reports.

Each ``--point LABEL:MINUTES:REPORT[:JUDGE]`` is one judge (a checkpoint of a training run) at
the training minutes it had cost, and the ``bench_scaling.py --json`` report that evaluated it
(``JUDGE`` picks the report's judge when it holds several). Reports of different sizes are
read on their common pairs: the held-out pairs of ``--per-kind`` per task kind, which every
larger report of the same suite contains (:func:`grm.benchmarks.stored.common_pairs`).
Accuracy per pair is the same expected k-chain majority score as in ``bench_scaling.py``, with
a 95% bootstrap interval.

    .venv/bin/python scripts/plot_training_curve.py --per-kind 10 \\
        --point base:0:runs/scaling/base.json --point sft-80:48.4:runs/scaling/sft.json \\
        --plot docs/training_curve.png --json docs/training_curve.json

Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grm.benchmarks.scaling import training_point
from grm.benchmarks.scaling_report import plot_training, training_table
from grm.benchmarks.stored import common_pairs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--point", action="append", required=True, help="LABEL:MINUTES:REPORT[:JUDGE]")
    p.add_argument("--per-kind", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    points, max_ks = [], set()
    for spec in args.point:
        label, minutes, report_path, *judge = spec.split(":")
        report = json.loads(Path(report_path).read_text())
        data = common_pairs(report, judge[0] if judge else None, args.per_kind)
        max_ks.add(data["max_k"])
        pt = training_point(label, float(minutes), data, args.seed)
        points.append({**pt, "report": report_path})
    if len(max_ks) != 1:
        raise SystemExit(f"the reports sampled different max_k {sorted(max_ks)}; use one.")
    max_k = max_ks.pop()
    print(training_table(points, max_k))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "points": points}, indent=1))
    if args.plot:
        plot_training(points, max_k, Path(args.plot))


if __name__ == "__main__":
    main()
