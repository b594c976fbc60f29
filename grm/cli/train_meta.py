"""``grm train-meta CONFIG``: train a meta reward model on a judge's own chains.

    grm train-meta training/configs/meta-rm-addition.yaml
    grm train-meta training/configs/meta-rm-addition.yaml --judge runs/judge-sft --n-pairs 64

It samples k chains per labelled pair with the judge, labels each by whether its verdict was
right, balances the classes, trains a one-logit classifier with BCE and prints the held-out
AUC (DeepSeek-GRM's meta RM, see grm.training.meta_rm). Use the result with
``grm judge --meta-rm OUTPUT_DIR`` or ``RewardModel.load(..., meta_rm=OUTPUT_DIR)``.
"""

from __future__ import annotations

import json
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train-meta", help="train a meta RM that rates a judge's chains")
    p.add_argument("config", help="YAML file of MetaRMTrainConfig fields (training/configs/)")
    p.add_argument("--judge", default=None, help="override the judge that samples the chains")
    p.add_argument("--output-dir", default=None, help="override the config's output_dir")
    p.add_argument("--engine", default=None, help="override the judge's engine")
    p.add_argument("--n-pairs", type=int, default=None, help="override the labelled pairs")
    p.add_argument("--max-steps", type=int, default=None, help="override the optimizer steps")
    p.set_defaults(func=run)


def run(args: Any) -> int:
    from grm.training.meta_rm import MetaRMTrainConfig
    from grm.training.meta_rm import run as run_meta

    cfg = MetaRMTrainConfig.from_yaml(
        args.config,
        judge=args.judge,
        output_dir=args.output_dir,
        engine=args.engine,
        n_pairs=args.n_pairs,
        max_steps=args.max_steps,
    )
    path, report = run_meta(cfg)
    held = report["held_out"]
    print(
        f"chains: {report['chains']} ({report['chains_right']} right); "
        f"trained on {report['train_chains']}, held out {report['held_out_chains']}"
    )
    print(f"held-out AUC: {held['auc']:.3f}  accuracy: {held['accuracy']:.3f}")
    print(json.dumps({"seconds": {"sample": report["sample_seconds"]}}, indent=None))
    print(f"meta RM saved to {path} (use it with grm judge --meta-rm {path})")
    return 0
