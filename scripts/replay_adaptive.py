"""Replay adaptive k's stopping rules on the chains a bench_scaling.py report already holds.

A ``k="auto"`` run is a prefix of the chains a fixed ``k = max_k`` run would draw, in the
same plan order, so every rule, wave size and confidence can be compared on one set of chains
without sampling again (:mod:`grm.benchmarks.replay`). For each setting it reports the
accuracy (RewardBench's rule: ties 0.5) with a 95% bootstrap interval, the chains used as a
share of ``max_k`` per pair, and the paired difference against fixed ``k = max_k`` on the same
pairs with its bootstrap interval.

    .venv/bin/python scripts/replay_adaptive.py docs/bench_scaling.json \\
        --waves 1 2 4 --confidences 0.8 0.9 0.95

rewrites each suite's ``replayed`` list in the report (``--out`` writes elsewhere), prints
the Markdown table and, with ``--plot``, redraws the scaling plot from the report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from grm.benchmarks.replay import plan_ordered_votes, replay_rules
from grm.benchmarks.scaling_report import plot, replay_lines
from grm.benchmarks.stored import sets


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("report", help="a bench_scaling.py JSON report")
    p.add_argument("--waves", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--confidences", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    p.add_argument("--out", default=None, help="where to write (default: the report itself)")
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    data = json.loads(Path(args.report).read_text())
    combined: dict[str, Any] = {"judges": {}}
    for label, run, name, s in sets(data):
        combined["judges"].setdefault(label, {})[name] = s
        if not s.get("pairs") or name == "judgebench":
            continue
        max_k, seed = int(run["args"]["max_k"]), int(run["args"]["seed"])
        ordered = plan_ordered_votes(s["pairs"], max_k, seed, int(run["args"]["batch_size"]))
        labels = [int(pair["label"]) for pair in s["pairs"]]
        s["replayed"] = replay_rules(ordered, labels, args.waves, args.confidences, max_k, seed)
        print("\n".join(replay_lines(label, name, s, max_k)))
    # Compact: the report holds every chain of every pair.
    Path(args.out or args.report).write_text(json.dumps(data, separators=(",", ":")))
    if args.plot:
        plot(combined, Path(args.plot))


if __name__ == "__main__":
    main()
