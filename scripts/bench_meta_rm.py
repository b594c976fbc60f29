"""Benchmark meta-RM guided voting (DeepSeek-GRM) against plain voting on held-out pairs.

With a trained judge it (1) samples chains on train-split verifiable pairs and on held-out
eval-split pairs (one vLLM engine, then closed), (2) trains a meta RM on the train-split
chains (labels: the chain's verdict names the preferred response; pairs held out for the
chain-level AUC; classes balanced), (3) scores every eval chain and compares voting@k with
MetaRM@k (vote over the k/2 best-rated chains) and a meta-weighted vote, for each k.

The comparison is paired: each eval pair gets ``--max-k`` chains once; for a smaller k the
chains are cut into ``max_k / k`` disjoint position-balanced blocks (k/2 chains from each
response order) and every block is scored, so each k and each method sees the same chains.
Scores follow RewardBench (1 right, 0 wrong, 0.5 tie).

Departure from DeepSeek-GRM: the meta RM here is the embedded 135M default model with a
one-logit head, trained on a few hundred chains of the same two-digit-addition task, rather
than a large model trained on the judge's chains over a broad preference mix.

    nice -n 5 .venv/bin/python scripts/bench_meta_rm.py --judge runs/judge-sft \\
        --train-pairs 96 --eval-pairs 60 --out runs/bench-meta-rm
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from grm.training.data import request_of
from grm.training.meta_data import balance_classes, label_chains, split_by_pair
from grm.training.meta_rm import train_meta_rm
from grm.training.tasks import TaskConfig, make_tasks

from grm.benchmarks.cli import add_common, set_threads
from grm.benchmarks.meta_vote import (
    Sampled,
    chain_auc,
    compare_methods,
    sample_pairs,
    score_chains,
    table_text,
    train_config,
)
from grm.benchmarks.record import Run, header
from grm.types import chain_dict, chain_of


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--judge", default="runs/judge-sft")
    p.add_argument("--base-model", default=None, help="meta RM base (default: embedded model)")
    add_common(p, "engine", "max_k", "temperature", "seed", max_tokens=72, threads=1)
    p.add_argument("--train-pairs", type=int, default=96)
    p.add_argument("--train-k", type=int, default=8)
    p.add_argument("--eval-pairs", type=int, default=60)
    p.add_argument("--ks", default="4,8,16")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--trainable-layers", type=int, default=None)
    p.add_argument("--out", default="runs/bench-meta-rm")
    p.add_argument("--chains-file", default=None, help="sampled chains (default OUT/chains.json)")
    p.add_argument(
        "--reuse-chains", action="store_true", help="read the chains file instead of sampling"
    )
    args = p.parse_args()

    set_threads(args)
    run = Run("bench_meta_rm", "bench_meta_rm", vars(args))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = TaskConfig(tasks=("addition",), low=10, high=99, eval_fraction=0.15, seed=0)
    train_rows = make_tasks(tasks, "train", args.train_pairs)
    eval_rows = make_tasks(tasks, "eval", args.eval_pairs)
    ks = [int(k) for k in args.ks.split(",")]
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    train_reqs = [request_of(r) for r in train_rows]
    eval_reqs = [request_of(r) for r in eval_rows]
    chains_file = Path(args.chains_file) if args.chains_file else out / "chains.json"
    if args.reuse_chains and chains_file.is_file():
        saved = json.loads(chains_file.read_text())
        train_results = [Sampled(tuple(map(chain_of, cs))) for cs in saved["train"]]
        eval_results = [Sampled(tuple(map(chain_of, cs))) for cs in saved["eval"]]
        print(f"chains read from {chains_file}", flush=True)
    else:
        got, times = sample_pairs(args, train_reqs, eval_reqs)
        train_results, eval_results = ([Sampled(r.chains) for r in rs] for rs in got)
        chains_file.write_text(
            json.dumps(
                {
                    name: [[chain_dict(c) for c in r.chains] for r in rs]
                    for name, rs in (("train", train_results), ("eval", eval_results))
                }
            )
        )
        print(f"chains sampled in {time.perf_counter() - t0:.0f} s", flush=True)

    examples = label_chains(train_reqs, train_results, [r["preferred"] for r in train_rows])
    train, held = split_by_pair(examples, 0.2, args.seed)
    train, held = balance_classes(train, args.seed), balance_classes(held, args.seed)
    cfg = train_config(args, out / "meta-rm")
    t = time.perf_counter()
    metrics = train_meta_rm(train, held, cfg)
    times["train_meta_rm_and_heldout_auc"] = time.perf_counter() - t
    print(f"meta RM trained: {metrics['held_out']}", flush=True)

    from grm.inference.meta_rm import MetaRM, MetaRMConfig

    t = time.perf_counter()
    scorer = MetaRM(MetaRMConfig(cfg.output_dir, max_length=cfg.max_length, threads=args.threads))
    eval_results = score_chains(scorer, eval_reqs, eval_results)
    times["score_eval_chains"] = time.perf_counter() - t
    eval_auc, eval_labels = chain_auc(eval_results, [r["preferred"] for r in eval_rows])
    table = compare_methods(eval_results, [r["preferred"] for r in eval_rows], ks)
    chains = [c for r in eval_results for c in r.chains]
    report = {
        **header(run),
        "args": vars(args),
        "meta_rm_config": {**asdict(cfg), "tasks": asdict(cfg.tasks)},
        "train_chains_total": len(examples),
        "train_chains_right": sum(e.label for e in examples),
        "meta_train_chains": len(train),
        "meta_heldout_chains": len(held),
        "heldout_train_split_pairs": metrics["held_out"],
        "eval_pairs_chains": eval_auc,
        "eval_chain_accuracy": sum(eval_labels) / max(len(eval_labels), 1),
        "eval_forced_rate": sum(c.forced for c in chains) / len(chains),
        "train_loss": metrics["train_loss"],
        "table": table,
        "seconds": {**times, "total": time.perf_counter() - t0},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))
    print("\n" + table_text(table))


if __name__ == "__main__":
    main()
