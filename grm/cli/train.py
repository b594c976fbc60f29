"""``grm train CONFIG``: SFT warm-start and/or GRPO of a judge, from a YAML config.

    grm train CONFIG --check-data       # counts, lengths, label balance, every bad row; no model
    grm train CONFIG --dry-run          # the resolved TRL / accelerate configuration; no training
    grm train training/configs/grpo-addition.yaml --output-dir runs/judge-grpo
    accelerate launch --config_file training/configs/accelerate/deepspeed-zero2.yaml \\
        -m grm.cli train training/configs/judge-7b.yaml

Per-step metrics (loss; reward, verdict accuracy, parse-failure rate, chain tokens; held-out
accuracy at each k every ``heldout_every`` steps) go to the trainer's ``report_to`` backends
and to OUTPUT_DIR/metrics.jsonl. A run ends with OUTPUT_DIR/summary.json and the curve
OUTPUT_DIR/curve.png. A killed run started again with the same command resumes from its
last checkpoint.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train", help="train a judge: SFT, rejection-sampling rounds (RFT) and/or GRPO (TRL)"
    )
    p.add_argument("config", help="YAML file of TrainConfig fields (see training/configs/)")
    p.add_argument("--output-dir", default=None, help="override the config's output_dir")
    p.add_argument("--model", default=None, help="override the starting checkpoint")
    p.add_argument("--data", default=None, help="override the config's data file")
    p.add_argument(
        "--stages", default=None, help="comma-separated stages to run (sft, rft, grpo), in order"
    )
    p.add_argument(
        "--check-data",
        action="store_true",
        help="check the data (counts, lengths, label balance, bad rows) and exit; loads no model",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the resolved TRL and accelerate configuration and exit; no training",
    )
    p.add_argument(
        "--accelerate-config",
        default=None,
        metavar="YAML",
        help="with --dry-run: an accelerate config file to validate and show",
    )
    p.add_argument(
        "--num-processes",
        type=int,
        default=None,
        help="with --dry-run: check the batch arithmetic for this many processes",
    )
    p.add_argument(
        "--plot", default=None, help="PNG path for the curve (default OUTPUT_DIR/curve.png)"
    )
    p.add_argument(
        "--plot-with",
        action="append",
        default=[],
        metavar="METRICS",
        help="another metrics.jsonl to draw in the same figure (e.g. the SFT run under GRPO)",
    )
    p.add_argument(
        "--eval",
        type=int,
        default=0,
        metavar="N",
        help="after training, held-out accuracy on N verifiable items at k=1 and k=8",
    )
    p.add_argument("--eval-engine", default="transformers", help="engine for --eval")
    p.set_defaults(func=run)


def _main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _config(args: Any) -> Any:
    from grm.training.config import TrainConfig

    stages = tuple(s.strip() for s in args.stages.split(",")) if args.stages else None
    return TrainConfig.from_yaml(
        args.config, output_dir=args.output_dir, model=args.model, stages=stages, data=args.data
    )


def check_data(cfg: Any) -> int:
    from grm.training.data_report import format_report
    from grm.training.user_data import prepare_for

    if cfg.data is None:
        print(
            "the config trains on generated verifiable tasks (no 'data'); nothing to check. "
            "Set data: path/to/prefs.jsonl (or --data) to train on your own pairs.",
            file=sys.stderr,
        )
        return 2
    report = prepare_for(cfg)
    print(format_report(report))
    return 0 if report.train else 1


def run(args: Any) -> int:
    cfg = _config(args)
    if args.check_data:
        return check_data(cfg)
    if args.dry_run:
        from grm.training.launch import resolved

        print(
            json.dumps(
                resolved(cfg, args.accelerate_config, args.num_processes), indent=2, default=str
            )
        )
        return 0
    from grm.training.pipeline import run as run_stages

    out = run_stages(cfg)
    if not _main_process():
        return 0
    print(f"trained judge saved to {out} (load it with RewardModel.load({str(out)!r}))")
    _summary(cfg, args)
    if args.eval:
        from grm import RewardModel
        from grm.training.evaluate import evaluate_judge
        from grm.training.tasks import make_tasks

        rows = make_tasks(cfg.tasks, "eval", args.eval)
        with RewardModel.load(str(out), engine=args.eval_engine) as rm:
            report = evaluate_judge(rm, rows)
        print(json.dumps({f"k={k}": v for k, v in report.items()}, indent=2))
    return 0


def _summary(cfg: Any, args: Any) -> None:
    from grm.training.plot import plot_metrics, summarize_run

    metrics = Path(cfg.output_dir) / "metrics.jsonl"
    if not metrics.is_file():
        return
    summary = summarize_run(metrics)
    (Path(cfg.output_dir) / "summary.json").write_text(json.dumps(summary, indent=2))
    for stage, s in summary.items():
        last = ", ".join(f"{k} {v:.3g}" for k, v in s["last_10_steps"].items())
        print(f"{stage}: {s['steps']} steps in {s['seconds']:.0f} s; last 10 steps: {last}")
        for h in s["heldout"]:
            accs = ", ".join(
                f"k={k[10:]} {v:.1%}" for k, v in h.items() if k.startswith("accuracy_k")
            )
            print(f"  held-out at step {int(h['step'])} (n={int(h.get('n', 0))}): {accs}")
    png = args.plot or str(Path(cfg.output_dir) / "curve.png")
    try:
        print(f"training curve: {plot_metrics([*args.plot_with, metrics], png)}")
    except ValueError as exc:  # nothing to draw (e.g. a run of zero steps)
        print(f"no training curve: {exc}", file=sys.stderr)
