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
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grm.training.evaluate import pair_score
from grm.training.meta_data import balance_classes, heldout_metrics, label_chains, split_by_pair
from grm.training.meta_rm import MetaRMTrainConfig, train_meta_rm
from grm.training.tasks import TaskConfig, make_tasks

from grm.aggregation import chain_winner, get_aggregator, meta_vote, weighted_count_votes
from grm.meta import meta_text, vote_weights
from grm.types import Chain, Judgment


@dataclass(frozen=True)
class Sampled:
    """The chains one pair got (the part of a Result this benchmark reads)."""

    chains: tuple[Chain, ...]


def chain_dict(c: Chain) -> dict[str, Any]:
    j = c.judgment
    return {
        "text": c.text,
        "order": list(c.order),
        "winner": j.winner,
        "tie": j.tie,
        "p_first": j.p_first,
        "forced": c.forced,
        "tokens": c.completion_tokens,
    }


def chain_of(d: dict[str, Any]) -> Chain:
    judgment = Judgment(winner=d["winner"], p_first=d["p_first"], tie=d["tie"])
    return Chain(d["text"], tuple(d["order"]), judgment, d["forced"], d["tokens"])


def balanced_blocks(chains: Sequence[Chain], k: int) -> list[list[int]]:
    """Disjoint blocks of k chain indices, k/2 from each response order."""
    by_order: dict[tuple[int, ...], list[int]] = {}
    for i, c in enumerate(chains):
        by_order.setdefault(c.order, []).append(i)
    lists = list(by_order.values())
    if len(lists) != 2 or k % 2:
        return [list(range(len(chains)))[j : j + k] for j in range(0, len(chains) - k + 1, k)]
    half = k // 2
    n = min(len(lst) for lst in lists) // half
    return [
        lists[0][b * half : (b + 1) * half] + lists[1][b * half : (b + 1) * half] for b in range(n)
    ]


def weighted_winner(judgments: Sequence[Judgment], weights: Sequence[float]) -> int | None:
    votes, ties, _ = weighted_count_votes(judgments, 2, weights)
    if votes[0] == votes[1]:
        return None
    return 0 if votes[0] > votes[1] else 1


def within_pair_auc(groups: Sequence[Sequence[tuple[float, int]]]) -> float:
    """AUC over (right, wrong) chain pairs of the SAME pair only: what top-k_meta selection
    needs, since it compares chains of one pair with each other (ties count half)."""
    wins = total = 0.0
    for group in groups:
        pos = [s for s, y in group if y == 1]
        neg = [s for s, y in group if y == 0]
        for a in pos:
            for b in neg:
                wins += 1.0 if a > b else 0.5 if a == b else 0.0
                total += 1
    return wins / total if total else float("nan")


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


def compare_methods(
    results: Sequence[Any], preferred: Sequence[int], ks: Sequence[int]
) -> dict[int, dict[str, float]]:
    """Per k: accuracy of voting, MetaRM@k (top k/2) and meta-weighted voting, paired."""
    majority = get_aggregator("majority")
    table: dict[int, dict[str, float]] = {}
    for k in ks:
        per_pair: dict[str, list[float]] = {"vote": [], "meta": [], "weighted": []}
        blocks_n = 0
        for res, pref in zip(results, preferred, strict=True):
            acc = {"vote": 0.0, "meta": 0.0, "weighted": 0.0}
            blocks = balanced_blocks(res.chains, k)
            for block in blocks:
                chains = [res.chains[i] for i in block]
                js = [c.judgment for c in chains]
                scores = [float(c.meta_score) for c in chains]
                acc["vote"] += pair_score(majority(js, 2).winner, pref)
                acc["meta"] += pair_score(meta_vote(js, 2, scores, max(1, k // 2))[0].winner, pref)
                acc["weighted"] += pair_score(weighted_winner(js, vote_weights(scores)), pref)
            blocks_n += len(blocks)
            for name in acc:
                per_pair[name].append(acc[name] / len(blocks))
        vote, vote_se = mean_se(per_pair["vote"])
        meta, meta_se = mean_se(per_pair["meta"])
        weighted, weighted_se = mean_se(per_pair["weighted"])
        diff, diff_se = mean_se(
            [m - v for m, v in zip(per_pair["meta"], per_pair["vote"], strict=True)]
        )
        wdiff, wdiff_se = mean_se(
            [w - v for w, v in zip(per_pair["weighted"], per_pair["vote"], strict=True)]
        )
        table[k] = {
            "voting": vote,
            "voting_se": vote_se,
            "meta_rm": meta,
            "meta_rm_se": meta_se,
            "meta_weighted": weighted,
            "meta_weighted_se": weighted_se,
            "meta_minus_voting": diff,
            "meta_minus_voting_se": diff_se,
            "weighted_minus_voting": wdiff,
            "weighted_minus_voting_se": wdiff_se,
            "blocks_per_pair": blocks_n / len(results),
        }
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--judge", default="runs/judge-sft")
    p.add_argument("--base-model", default=None, help="meta RM base (default: embedded model)")
    p.add_argument("--engine", default="vllm")
    p.add_argument("--train-pairs", type=int, default=96)
    p.add_argument("--train-k", type=int, default=8)
    p.add_argument("--eval-pairs", type=int, default=60)
    p.add_argument("--max-k", type=int, default=16)
    p.add_argument("--ks", default="4,8,16")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=72)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--trainable-layers", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/bench-meta-rm")
    p.add_argument("--chains-file", default=None, help="sampled chains (default OUT/chains.json)")
    p.add_argument(
        "--reuse-chains", action="store_true", help="read the chains file instead of sampling"
    )
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from grm import RewardModel

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = TaskConfig(tasks=("addition",), low=10, high=99, eval_fraction=0.15, seed=0)
    train_rows = make_tasks(tasks, "train", args.train_pairs)
    eval_rows = make_tasks(tasks, "eval", args.eval_pairs)
    ks = [int(k) for k in args.ks.split(",")]
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    from grm.training.data import request_of

    train_reqs = [request_of(r) for r in train_rows]
    eval_reqs = [request_of(r) for r in eval_rows]
    chains_file = Path(args.chains_file) if args.chains_file else out / "chains.json"
    if args.reuse_chains and chains_file.is_file():
        saved = json.loads(chains_file.read_text())
        train_results = [Sampled(tuple(map(chain_of, cs))) for cs in saved["train"]]
        eval_results = [Sampled(tuple(map(chain_of, cs))) for cs in saved["eval"]]
        print(f"chains read from {chains_file}", flush=True)
    else:
        options = {"max_model_len": 2048} if args.engine == "vllm" else {}
        with RewardModel.load(
            args.judge, engine=args.engine, engine_options=options, calibrator=False
        ) as rm:
            times["judge_load"] = time.perf_counter() - t0
            common = {"max_tokens": args.max_tokens, "temperature": args.temperature}
            t = time.perf_counter()
            got = rm.compare_batch(train_reqs, k=args.train_k, seed=args.seed, **common)
            train_results = [Sampled(r.chains) for r in got]
            times["sample_train_chains"] = time.perf_counter() - t
            t = time.perf_counter()
            got = rm.compare_batch(eval_reqs, k=args.max_k, seed=args.seed + 1, **common)
            eval_results = [Sampled(r.chains) for r in got]
            times["sample_eval_chains"] = time.perf_counter() - t
        chains_file.write_text(
            json.dumps(
                {
                    "train": [[chain_dict(c) for c in r.chains] for r in train_results],
                    "eval": [[chain_dict(c) for c in r.chains] for r in eval_results],
                }
            )
        )
        print(f"chains sampled in {time.perf_counter() - t0:.0f} s", flush=True)

    examples = label_chains(train_reqs, train_results, [r["preferred"] for r in train_rows])
    train, held = split_by_pair(examples, 0.2, args.seed)
    train, held = balance_classes(train, args.seed), balance_classes(held, args.seed)
    cfg = MetaRMTrainConfig(
        judge=args.judge,
        base_model=args.base_model,
        output_dir=str(out / "meta-rm"),
        max_steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        trainable_layers=args.trainable_layers,
        torch_threads=args.threads,
        seed=args.seed,
        trainer={"warmup_steps": max(1, args.steps // 10), "lr_scheduler_type": "cosine"},
    )
    t = time.perf_counter()
    metrics = train_meta_rm(train, held, cfg)
    times["train_meta_rm_and_heldout_auc"] = time.perf_counter() - t
    print(f"meta RM trained: {metrics['held_out']}", flush=True)

    from grm.inference.meta_rm import MetaRM, MetaRMConfig

    t = time.perf_counter()
    scorer = MetaRM(MetaRMConfig(cfg.output_dir, max_length=cfg.max_length, threads=args.threads))
    texts = [
        meta_text(req, c) for req, r in zip(eval_reqs, eval_results, strict=True) for c in r.chains
    ]
    flat = iter(scorer.score_texts(texts))
    eval_results = [
        replace(r, chains=tuple(replace(c, meta_score=next(flat)) for c in r.chains))
        for r in eval_results
    ]
    times["score_eval_chains"] = time.perf_counter() - t
    eval_scores, eval_labels = [], []
    groups: list[list[tuple[float, int]]] = []
    for r, row in zip(eval_results, eval_rows, strict=True):
        groups.append([])
        for c in r.chains:
            w = chain_winner(c.judgment)
            if w is not None and not c.judgment.abstained:
                eval_scores.append(float(c.meta_score or 0.0))
                eval_labels.append(int(w == row["preferred"]))
                groups[-1].append((eval_scores[-1], eval_labels[-1]))
    eval_auc = {
        **heldout_metrics(eval_scores, eval_labels),
        "within_pair_auc": within_pair_auc(groups),
    }
    table = compare_methods(eval_results, [r["preferred"] for r in eval_rows], ks)
    chains = [c for r in eval_results for c in r.chains]
    report = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
    print(
        "\n| k | voting@k | MetaRM@k (k_meta = k/2) | meta-weighted@k | MetaRM - voting "
        "| weighted - voting |"
    )
    print("|---|---|---|---|---|---|")
    for k, row in table.items():
        print(
            f"| {k} | {100 * row['voting']:.1f} ± {100 * row['voting_se']:.1f} "
            f"| {100 * row['meta_rm']:.1f} ± {100 * row['meta_rm_se']:.1f} "
            f"| {100 * row['meta_weighted']:.1f} ± {100 * row['meta_weighted_se']:.1f} "
            f"| {100 * row['meta_minus_voting']:+.1f} ± {100 * row['meta_minus_voting_se']:.1f} "
            f"| {100 * row['weighted_minus_voting']:+.1f} "
            f"± {100 * row['weighted_minus_voting_se']:.1f} |"
        )


if __name__ == "__main__":
    main()
