"""Accuracy versus k on the held-out verifiable suite, with 95% bootstrap intervals, and adaptive k.

For each judge (``base`` is the embedded default model; a checkpoint directory or a bundled
judge name otherwise) it samples ``max_k`` position-balanced chains per pair in batched
passes, then reads from those chains (:func:`grm.benchmarks.scaling.judge_set`): accuracy at
k = 1, 2, 4, ..., max_k overall and per task kind with bootstrap intervals over pairs and the
paired gain; per-chain accuracy and the error correlation within a pair; every stopping rule
replayed in plan order for each wave size and confidence; optionally (``--auto-rule``) one
real ``k="auto"`` run as a check of the replay.

The suite is ``grm.training.tasks`` (six kinds, one tier, held-out split of seed 0: the items the
training configs never see). JudgeBench rows (read from ../shared/data) can be added.

    .venv/bin/python scripts/bench_scaling.py --model base --model runs/judge-suite-sft \
        --per-kind 60 --max-k 16 --json docs/bench_scaling.json --plot docs/scaling_curve.png

Prints Markdown tables for docs/benchmarks.md; ``--record NAME`` also writes a run record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from grm.benchmarks import data
from grm.benchmarks.cli import add_common, engine_options
from grm.benchmarks.record import Run, header
from grm.benchmarks.scaling import judge_set, record_set
from grm.benchmarks.scaling_report import plot, tables


def main() -> None:
    from grm import RewardModel

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    add_common(p, model={"action": "append", "required": True, "help": "'base', a dir or a name"})
    p.add_argument("--per-kind", type=int, default=60, help="held-out pairs per task kind")
    p.add_argument("--kinds", nargs="+", default=list(data.KINDS))
    p.add_argument("--tier", default="medium")
    p.add_argument("--judgebench", type=int, default=0, help="JudgeBench rows (0 skips)")
    add_common(p, "max_k", "max_tokens", "temperature", "engine", max_tokens=128)
    p.add_argument("--batch-size", type=int, default=60, help="pairs per engine call")
    p.add_argument("--offset", type=int, default=0, help="skip this many pairs per kind")
    p.add_argument("--waves", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--confidences", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    p.add_argument(
        "--auto-rule",
        default=None,
        help="RULE:WAVE:CONFIDENCE for a real k=auto run, or best: the cheapest "
        "replayed rule within 0.5 points of fixed max_k (picked on these pairs, so check "
        "it on others: --offset)",
    )
    add_common(p, "seed")
    p.add_argument(
        "--forcing",
        choices=["inline", "pass"],
        default="pass",
        help="how cut chains are forced (JudgeConfig.forcing)",
    )
    add_common(p, "engine_option", "json", "record")
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    sets: dict[str, list[Any]] = {}
    if args.per_kind:
        sets["suite"] = data.suite(args.kinds, args.per_kind, args.tier, args.offset)
    if args.judgebench:
        sets["judgebench"] = [(r, y, "judgebench") for r, y in data.judgebench(args.judgebench)]
    run = Run(args.record or "bench_scaling", "bench_scaling", vars(args))
    report: dict[str, Any] = {**header(run), "args": vars(args), "judges": {}}
    for model in args.model:
        with RewardModel.load(
            None if model == "base" else model,
            engine=args.engine,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            seed=args.seed,
            forcing=args.forcing,
            engine_options=engine_options(args),
        ) as rm:
            report["judges"][model] = {}
            for name, items in sets.items():
                print(f"# {model} on {name} ({len(items)} pairs, k={args.max_k})", flush=True)
                # JudgeBench pairs get the curve only: no replay, no k="auto" run.
                jb = name == "judgebench"
                res = judge_set(
                    rm,
                    items,
                    max_k=args.max_k,
                    batch_size=args.batch_size,
                    seed=args.seed,
                    waves=[] if jb else args.waves,
                    confidences=args.confidences,
                    auto_rule=None if jb else args.auto_rule,
                    progress=lambda line: print(line, flush=True),
                )
                report["judges"][model][name] = res
                if args.json:
                    Path(args.json).write_text(json.dumps(report, indent=1))
                record_set(run, report, model, name, res)
                if args.record:
                    run.save()
    print(tables(report))
    if args.plot:
        plot(report, Path(args.plot))


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
