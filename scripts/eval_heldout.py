"""Several judges on the held-out split of a ``grm train`` config, with paired differences.

The config's own data path gives the split (length filter, split by prompt), so the pairs
are exactly the ones its training never saw. Each judge writes k position-balanced chains
per pair in one batched pass; k=1 is the mean single chain, k=k the majority; every figure
has a 95% bootstrap interval over pairs, and each judge after the first gets its paired
difference from the first on the same pairs.

    .venv/bin/python scripts/eval_heldout.py training/configs/sft-hh-harmless.yaml \\
        --judge base=embedded --judge bundled=grm-judge-135m \\
        --judge hh-sft=runs/judge-hh-sft --k 8 --record hh-heldout

A judge given as a ``grm train`` checkpoint (``OUT/checkpoints-STAGE/checkpoint-N``) also
gets its training minutes from the run's ``metrics.jsonl``, so checkpoints of one run make a
learning curve (``--from hh-heldout`` takes the base model's pass from that record).
"""

from __future__ import annotations

import argparse
import json

from grm.benchmarks.cli import add_common
from grm.benchmarks.heldout import add_judge, judge_chains, judges_table, resume
from grm.benchmarks.record import Run, load


def main() -> None:
    from grm.training.config import TrainConfig
    from grm.training.user_data import prepare_for

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("config", help="a grm train YAML (its data, split and template)")
    p.add_argument(
        "--judge",
        action="append",
        required=True,
        metavar="LABEL=MODEL",
        help="a judge to measure (model: a checkpoint, a bundled judge, embedded)",
    )
    p.add_argument("--k", type=int, default=8, help="chains per pair")
    p.add_argument("--engine", default="vllm")
    p.add_argument(
        "--dtype",
        default="auto",
        help="engine dtype; judges on one record should share it (float32 matches a CPU "
        "without native bfloat16)",
    )
    p.add_argument("--limit", type=int, default=None, help="the first N held-out pairs")
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--add",
        action="store_true",
        help="add the judges to the existing record (same pairs, same first judge)",
    )
    start.add_argument(
        "--from",
        dest="base_record",
        metavar="RECORD[:LABEL]",
        default=None,
        help="start a new record from RECORD's judge LABEL (default: its first) on the same "
        "pairs: the new judges' paired differences are taken from it without judging it again",
    )
    add_common(p, "seed", "record")
    args = p.parse_args()

    cfg = TrainConfig.from_yaml(args.config)
    held = prepare_for(cfg).heldout[: args.limit]
    labels = [r["preferred"] for r in held]
    print(f"{len(held)} held-out pairs, k={args.k}", flush=True)
    run = Run(args.record or "eval-heldout", "eval_heldout", vars(args))
    run.figures = {"judges": {}, "diff": {}}
    try:
        if args.add:
            scores = resume(run, load(args.record), labels)
        elif args.base_record:
            name, _, only = args.base_record.partition(":")
            scores = resume(run, load(name), labels, only=only)
        else:
            scores = {}
    except ValueError as exc:
        raise SystemExit(f"{exc} Drop --add / --from.") from None
    for spec in args.judge:
        label, _, model = spec.partition("=")
        model = model or label
        measured = judge_chains(
            model,
            held,
            cfg.template,
            cfg.heldout_max_tokens,
            args.k,
            args.engine,
            args.seed,
            args.dtype,
        )
        got = add_judge(run, scores, label, model, measured, labels, args.seed)
        print(label, json.dumps(got), flush=True)
        if args.record:
            run.save()  # after each judge: a long run keeps what it has
    print(judges_table(run.figures, args.k))
    if args.record:
        print("record:", run.save())


if __name__ == "__main__":
    main()
