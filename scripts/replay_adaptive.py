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

The ``bayes`` rule needs the judge's vote prior: ``--prior-from REPORT`` fits it to that
report's labelled chains (:func:`grm.vote_prior.fit_prior`) and prints it in the form a
judge card's ``adaptive.vote_prior`` takes. Choosing a setting on one held-out set and
checking it on another is then two calls with the same ``--prior-from`` (the first set):

    scripts/replay_adaptive.py runs/scaling/set1.json --prior-from runs/scaling/set1.json \\
        --rules bayes sprt --confidences 0.93 0.95 0.97 --record replay-set1
    scripts/replay_adaptive.py runs/scaling/set2.json --prior-from runs/scaling/set1.json \\
        --rules bayes sprt --confidences 0.93 0.95 0.97 --record replay-set2

``--record NAME`` writes ``docs/records/NAME.json`` (the replayed settings, the prior, and the
report's own record fields), which the docs' ``transfer`` view reads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from grm.benchmarks.record import Run
from grm.benchmarks.replay import replay_rules, report_vote_prior, stored_order
from grm.benchmarks.scaling_report import plot, replay_lines
from grm.benchmarks.stored import sets
from grm.stopping import stopping_rule_names
from grm.vote_prior import DEFAULT_BINS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("report", help="a bench_scaling.py JSON report")
    p.add_argument("--waves", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--confidences", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    p.add_argument(
        "--rules", nargs="+", default=None, choices=stopping_rule_names(), help="default: all"
    )
    p.add_argument("--prior-from", default=None, help="fit the bayes rule's prior to REPORT")
    p.add_argument("--bins", type=int, default=DEFAULT_BINS, help="the prior's grid points")
    p.add_argument("--out", default=None, help="where to write (default: the report itself)")
    p.add_argument("--record", default=None, help="also write docs/records/NAME.json")
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    prior = report_vote_prior(args.prior_from, args.bins) if args.prior_from else None
    if prior is not None:
        print("vote_prior: [" + ", ".join(f"{w:.4f}" for w in prior) + "]")
    data = json.loads(Path(args.report).read_text())
    run_record = Run(args.record or "replay_adaptive", "replay_adaptive", vars(args))
    combined: dict[str, Any] = {"judges": {}}
    for label, run, name, s in sets(data):
        combined["judges"].setdefault(label, {})[name] = s
        if not s.get("pairs") or name == "judgebench":
            continue
        ordered, labels, max_k, seed = stored_order(run, s)
        s["replayed"] = replay_rules(
            ordered, labels, args.waves, args.confidences, max_k, seed, prior, args.rules
        )
        print("\n".join(replay_lines(label, name, s, max_k)))
        summary = {k: v for k, v in s.items() if k != "pairs"}
        run_record.data.setdefault("report", {}).setdefault(label, {})[name] = summary
    # Compact: the report holds every chain of every pair.
    Path(args.out or args.report).write_text(json.dumps(data, separators=(",", ":")))
    if args.record:
        run_record.figures["vote_prior"] = list(prior) if prior is not None else None
        run_record.data["source"] = {k: data.get(k) for k in ("command", "date", "machine")}
        run_record.save()
    if args.plot:
        plot(combined, Path(args.plot))


if __name__ == "__main__":
    main()
