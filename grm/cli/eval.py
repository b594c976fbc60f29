"""``grm eval``: judge labelled pairs, write a JSON report and plots.

    grm eval ../shared/data/judgebench-gpt4o.jsonl --limit 40 --k 8 --out runs/eval-base
    grm eval prefs.jsonl --k 16 --engine vllm --out runs/eval       # prompt/chosen/rejected

The report holds RewardBench-rule accuracy (tie or no verdict = 0.5) and strict accuracy per
subset/source, accuracy versus k (resampled from the one pass), position consistency,
abstention and forced-verdict rates, tokens and seconds, and calibration metrics; the plots
are accuracy_vs_k.png and reliability.png. ``grm calibrate OUT/report.json`` fits a
calibrator from it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from grm.cli.judge import add_judge_config_args, add_meta_args, add_model_args
from grm.cli.options import add_progress_args
from grm.rows import FORMATS

#: JudgeConfig fields this command declares itself: --k is the report's largest k.
OWN_FLAGS = frozenset({"k"})


def add_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="evaluate a judge on labelled pairs (accuracy, k, calibration)")
    p.add_argument("data", help="JSONL/JSON file, a saved datasets dir, or a dataset name")
    p.add_argument("--split", default="train", help="dataset split (datasets only)")
    p.add_argument(
        "--data-format",
        default="auto",
        choices=FORMATS,
        help="row shape (auto: told per row from its columns)",
    )
    p.add_argument("--k", type=int, default=8, help="chains per pair (the largest k reported)")
    p.add_argument("--limit", type=int, default=None, help="a seeded random subset of N pairs")
    p.add_argument("--batch-size", type=int, default=8, help="pairs per engine call")
    p.add_argument("--resamples", type=int, default=50, help="draws per k for accuracy vs k")
    p.add_argument("--out", default="grm-eval", help="output directory")
    p.add_argument("--no-plots", action="store_true", help="write the JSON report only")
    add_progress_args(p)
    p.add_argument("--calibrator", default=None, help="apply this calibrator JSON file")
    add_model_args(p)
    add_meta_args(p)
    # k is the report's largest k (accuracy vs k is resampled from one pass): eval's own.
    add_judge_config_args(p, skip=OWN_FLAGS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grm import RewardModel
    from grm.cli.options import config_overrides, engine_options
    from grm.config import JudgeConfig
    from grm.evaluation import EvalConfig, evaluate, read_items, write_report

    options = config_overrides(args, JudgeConfig, skip=OWN_FLAGS)
    cfg = EvalConfig(
        k=args.k,
        batch_size=args.batch_size,
        resamples=args.resamples,
        seed=options.get("seed", JudgeConfig.seed),
        limit=args.limit,
    )
    items, dropped = read_items(args.data, cfg.limit, cfg.seed, args.split, args.data_format)
    if dropped:
        shown = "".join(f"\n  {d}" for d in dropped[:10])
        more = f"\n  ... and {len(dropped) - 10} more (see dropped in the report)"
        print(
            f"dropped {len(dropped)} unusable rows:{shown}{more if len(dropped) > 10 else ''}",
            file=sys.stderr,
        )
    start = time.perf_counter()
    rm = RewardModel.load(
        args.model,
        engine=args.engine,
        template=args.template,
        engine_options=engine_options(args.engine_option),
        calibrator=args.calibrator,
        meta_rm=args.meta_rm,
        k=args.k,
        **options,
    )
    load_s = time.perf_counter() - start
    report = evaluate(rm, items, cfg, progress=args.progress)
    report["data"] = str(args.data)
    report["dropped"] = dropped
    report["load_seconds"] = load_s
    report["command"] = "grm " + " ".join(sys.argv[1:])
    paths = write_report(report, args.out, plots=not args.no_plots)
    rm.close()
    print(f"pairs: {report['n']}  k: {report['k']}  engine: {report['judge']['engine']}")
    print(
        f"accuracy (ties 0.5): {100 * report['accuracy']:.1f}%  "
        f"strict: {100 * report['strict_accuracy']:.1f}%"
    )
    print(
        "accuracy vs k: "
        + ", ".join(f"k={p['k']}: {100 * p['accuracy']:.1f}" for p in report["accuracy_vs_k"])
    )
    pos = report["position"]
    if pos["swap_consistency"] is not None:
        print(
            f"swap consistency: {100 * pos['swap_consistency']:.1f}%  "
            f"first-slot rate: {100 * (pos['first_slot_rate'] or 0):.1f}%"
        )
    rates = report["rates"]
    print(
        f"abstention: {100 * rates['abstention']:.1f}%  forced: {100 * rates['forced']:.1f}%  "
        f"tie: {100 * rates['tie']:.1f}%  none: {100 * rates['none']:.1f}%"
    )
    raw = report["calibration"]["raw"]
    if raw:
        print(f"ECE: {raw['ece']:.3f}  Brier: {raw['brier']:.3f}  log-loss: {raw['log_loss']:.3f}")
    tok = report["tokens"]
    print(
        f"tokens: {tok['prompt']} prompt + {tok['completion']} completion  "
        f"time: {report['seconds']:.1f} s ({report['seconds_per_pair']:.2f} s/pair)"
    )
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
