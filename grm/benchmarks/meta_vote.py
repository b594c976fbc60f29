"""Meta-RM guided voting against plain voting on the same chains (DeepSeek-GRM,
arXiv:2504.02495): paired per pair over disjoint position-balanced blocks.

Each pair has ``max_k`` chains; for a smaller k they are cut into ``max_k / k`` disjoint
blocks (k/2 chains from each response order) and every block is scored, so each k and each
method sees the same chains. Scores follow RewardBench (1 right, 0 wrong, 0.5 tie).

>>> from grm.types import Chain, Judgment
>>> cs = [Chain("", (0, 1), Judgment(winner=0)), Chain("", (1, 0), Judgment(winner=0))] * 2
>>> balanced_blocks(cs, 2)
[[0, 1], [2, 3]]
>>> within_pair_auc([[(0.9, 1), (0.1, 0)], [(0.2, 1), (0.8, 0)]])
0.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from grm.aggregation import chain_winner, get_aggregator, meta_vote, weighted_count_votes
from grm.calibration.metrics import mean_and_stderr
from grm.eval_metrics import rb_score
from grm.meta import meta_text, vote_weights
from grm.types import Chain, Judgment


@dataclass(frozen=True)
class Sampled:
    """The chains one pair got (the part of a Result this benchmark reads)."""

    chains: tuple[Chain, ...]


def sample_pairs(
    args: Any, train_reqs: Sequence[Any], eval_reqs: Sequence[Any]
) -> tuple[tuple[list[Any], list[Any]], dict[str, float]]:
    """The judge's chains on the train-split pairs (``args.train_k`` each, seed) and the
    eval-split pairs (``args.max_k`` each, seed + 1), one engine, then closed; with seconds."""
    import time

    from grm import RewardModel

    times: dict[str, float] = {}
    t = time.perf_counter()
    options = {"max_model_len": 2048} if args.engine == "vllm" else {}
    common = {"max_tokens": args.max_tokens, "temperature": args.temperature}
    with RewardModel.load(
        args.judge, engine=args.engine, engine_options=options, calibrator=False
    ) as rm:
        times["judge_load"] = time.perf_counter() - t
        t = time.perf_counter()
        train = rm.compare_batch(train_reqs, k=args.train_k, seed=args.seed, **common)
        times["sample_train_chains"] = time.perf_counter() - t
        t = time.perf_counter()
        evals = rm.compare_batch(eval_reqs, k=args.max_k, seed=args.seed + 1, **common)
        times["sample_eval_chains"] = time.perf_counter() - t
    return (train, evals), times


def train_config(args: Any, output_dir: Any) -> Any:
    """The meta RM's training config from the benchmark's options (cosine schedule, warm-up
    a tenth of the steps)."""
    from grm.training.meta_rm import MetaRMTrainConfig

    return MetaRMTrainConfig(
        judge=args.judge,
        base_model=args.base_model,
        output_dir=str(output_dir),
        max_steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        trainable_layers=args.trainable_layers,
        torch_threads=args.threads,
        seed=args.seed,
        trainer={"warmup_steps": max(1, args.steps // 10), "lr_scheduler_type": "cosine"},
    )


def score_chains(scorer: Any, requests: Sequence[Any], results: Sequence[Any]) -> list[Any]:
    """``results`` with every chain's ``meta_score`` set by ``scorer`` (a MetaRM)."""
    texts = [meta_text(q, c) for q, r in zip(requests, results, strict=True) for c in r.chains]
    flat = iter(scorer.score_texts(texts))
    return [
        replace(r, chains=tuple(replace(c, meta_score=next(flat)) for c in r.chains))
        for r in results
    ]


def chain_auc(
    results: Sequence[Any], preferred: Sequence[int]
) -> tuple[dict[str, float], list[int]]:
    """The meta RM's AUC over chains that name a winner (across pairs, and within each pair),
    and those chains' right/wrong labels."""
    from grm.training.meta_data import heldout_metrics

    scores, labels = [], []
    groups: list[list[tuple[float, int]]] = []
    for r, pref in zip(results, preferred, strict=True):
        groups.append([])
        for c in r.chains:
            w = chain_winner(c.judgment)
            if w is not None and not c.judgment.abstained:
                scores.append(float(c.meta_score or 0.0))
                labels.append(int(w == pref))
                groups[-1].append((scores[-1], labels[-1]))
    auc = {**heldout_metrics(scores, labels), "within_pair_auc": within_pair_auc(groups)}
    return auc, labels


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
    votes, _, _ = weighted_count_votes(judgments, 2, weights)
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


def compare_methods(
    results: Sequence[Any], preferred: Sequence[int], ks: Sequence[int]
) -> dict[int, dict[str, float]]:
    """Per k: accuracy of voting, MetaRM@k (top k/2) and meta-weighted voting, paired, each
    with its standard error over pairs, and the paired differences from voting."""
    majority = get_aggregator("majority")
    table: dict[int, dict[str, float]] = {}
    for k in ks:
        per_pair: dict[str, list[float]] = {"voting": [], "meta_rm": [], "meta_weighted": []}
        blocks_n = 0
        for res, pref in zip(results, preferred, strict=True):
            acc = dict.fromkeys(per_pair, 0.0)
            blocks = balanced_blocks(res.chains, k)
            for block in blocks:
                chains = [res.chains[i] for i in block]
                js = [c.judgment for c in chains]
                scores = [float(c.meta_score) for c in chains]
                acc["voting"] += rb_score(majority(js, 2).winner, pref)
                top = meta_vote(js, 2, scores, max(1, k // 2))[0].winner
                acc["meta_rm"] += rb_score(top, pref)
                acc["meta_weighted"] += rb_score(weighted_winner(js, vote_weights(scores)), pref)
            blocks_n += len(blocks)
            for name in acc:
                per_pair[name].append(acc[name] / len(blocks))
        row: dict[str, float] = {}
        for name, values in per_pair.items():
            row[name], row[f"{name}_se"] = mean_and_stderr(values)
        for name, diff in (
            ("meta_minus_voting", "meta_rm"),
            ("weighted_minus_voting", "meta_weighted"),
        ):
            d = [m - v for m, v in zip(per_pair[diff], per_pair["voting"], strict=True)]
            row[name], row[f"{name}_se"] = mean_and_stderr(d)
        row["blocks_per_pair"] = blocks_n / len(results)
        table[k] = row
    return table


def table_text(table: dict[int, dict[str, float]]) -> str:
    """The comparison as docs/benchmarks.md shows it (points, ± one standard error)."""
    lines = [
        "| k | voting@k | MetaRM@k (k_meta = k/2) | meta-weighted@k | MetaRM - voting "
        "| weighted - voting |",
        "|---|---|---|---|---|---|",
    ]
    for k, row in table.items():
        cells = []
        for name in (
            "voting",
            "meta_rm",
            "meta_weighted",
            "meta_minus_voting",
            "weighted_minus_voting",
        ):
            f = "+.1f" if "minus" in name else ".1f"
            cells.append(f"{100 * row[name]:{f}} ± {100 * row[name + '_se']:.1f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
