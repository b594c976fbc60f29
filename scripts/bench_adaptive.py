"""Benchmark adaptive k against fixed k: accuracy and chains, in one run.

For each judge (the embedded base model; a trained judge when its directory exists) and each
request set (JudgeBench rows read from ../shared/data, and held-out two-digit addition pairs
from grm.training.tasks), it runs (:mod:`grm.benchmarks.adaptive_report`):

1. fixed k = max_k in one batched pass; fixed k = 1, 4, 8 are read from the same chains by
   taking the first k in their position-balanced plan order (no extra engine calls);
2. ``k="auto"`` (the Beta rule, max_k) as a real wave-by-wave run, with vLLM's prefix-cache
   accounting per wave (prompt tokens served from the cache);
3. every registered stopping rule replayed on the fixed-k chains (the same waves, cut where
   the rule would have stopped), to compare rules without more engine calls.

Accuracy uses RewardBench's rule: 1 for the right winner, 0.5 for a tie, 0 otherwise.

    .venv/bin/python scripts/bench_adaptive.py --judgebench 16 --arith 32 --max-tokens 96

Writes a JSON report and an accuracy-versus-chains PNG (paths below), and prints a Markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from grm.benchmarks import data
from grm.benchmarks.adaptive_report import plot, run_judge, table, wave_cache_probe
from grm.benchmarks.cli import add_common
from grm.benchmarks.record import ROOT, Run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_common(p, "engine", "max_k", max_tokens=96, record={})
    p.add_argument("--judgebench", type=int, default=16, help="JudgeBench rows (from the top)")
    p.add_argument("--arith", type=int, default=32, help="held-out addition pairs")
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument(
        "--models",
        nargs="*",
        default=None,
        help="judge dirs (default: embedded model, then any trained judge found)",
    )
    p.add_argument("--json", default=str(ROOT / "docs" / "bench_adaptive.json"))
    p.add_argument("--plot", default=str(ROOT / "docs" / "adaptive_accuracy_vs_chains.png"))
    p.add_argument("--no-probe", action="store_true", help="skip the per-wave cache probe")
    p.add_argument(
        "--append",
        action="store_true",
        help="keep the judges already in --json (add a trained judge later)",
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("grm.benchmarks").setLevel(logging.INFO)  # progress

    models: list[tuple[str, str | None]] = [("base", None)]
    if args.models is not None:
        models = [(Path(m).name, m) for m in args.models]
    else:
        models += [(d.name, str(d)) for d in data.trained_judges()[:1]]
    sets = {}
    if args.judgebench:
        sets["judgebench"] = data.judgebench(args.judgebench)
    if args.arith:
        sets["addition (held-out)"] = data.heldout_addition(args.arith)
    # Rows no other run has sent, so the probe's first wave starts with a cold cache.
    fresh = data.judgebench(args.judgebench + 8)[-8:]
    run = Run(args.record or "bench_adaptive", "bench_adaptive", vars(args))
    report: dict[str, Any] = {k: run.data[k] for k in ("command", "machine", "date")}
    report["judges"] = {}
    if args.append and Path(args.json).is_file():
        report["judges"] = json.loads(Path(args.json).read_text())["judges"]
    for name, model in models:
        jr = run_judge(model, sets, args.engine, args.max_tokens, args.max_k, args.confidence)
        jr |= {"command": report["command"], "date": report["date"]}
        jr["wave_cache"] = wave_cache_probe(jr.pop("rm"), None if args.no_probe else fresh)
        report["judges"][name] = jr
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    plot(report, Path(args.plot))
    print(table(report))
    print(json.dumps({j: jr["wave_cache"] for j, jr in report["judges"].items()}, indent=2))
    if args.record:
        run.figures = report
        run.save()


if __name__ == "__main__":
    main()
