"""``grm train CONFIG``: SFT warm-start and/or GRPO of a judge, from a YAML config.

    grm train training/configs/sft-addition.yaml
    grm train training/configs/grpo-addition.yaml --output-dir runs/judge-grpo --plot curve.png
    grm train training/configs/sft-addition.yaml --eval 200     # held-out accuracy after

Per-step metrics (loss; reward, verdict accuracy, parse-failure rate, chain tokens) are
printed by the trainer and appended to OUTPUT_DIR/metrics.jsonl; ``--plot`` draws them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="train a judge with SFT and/or GRPO (TRL)")
    p.add_argument("config", help="YAML file of TrainConfig fields (see training/configs/)")
    p.add_argument("--output-dir", default=None, help="override the config's output_dir")
    p.add_argument("--model", default=None, help="override the starting checkpoint")
    p.add_argument(
        "--stages", default=None, help="comma-separated stages to run (sft, grpo), in order"
    )
    p.add_argument("--plot", default=None, help="PNG path for the training curve")
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


def run(args: Any) -> int:
    from grm.training.config import TrainConfig
    from grm.training.grpo import run as run_stages
    from grm.training.plot import plot_metrics

    stages = tuple(s.strip() for s in args.stages.split(",")) if args.stages else None
    cfg = TrainConfig.from_yaml(
        args.config, output_dir=args.output_dir, model=args.model, stages=stages
    )
    out = run_stages(cfg)
    print(f"trained judge saved to {out} (load it with RewardModel.load({str(out)!r}))")
    metrics = Path(cfg.output_dir) / "metrics.jsonl"
    if args.plot:
        print(f"training curve: {plot_metrics([*args.plot_with, metrics], args.plot)}")
    if args.eval:
        from grm import RewardModel
        from grm.training.evaluate import evaluate_judge
        from grm.training.tasks import make_tasks

        rows = make_tasks(cfg.tasks, "eval", args.eval)
        with RewardModel.load(str(out), engine=args.eval_engine) as rm:
            report = evaluate_judge(rm, rows)
        print(json.dumps({f"k={k}": v for k, v in report.items()}, indent=2))
    return 0
