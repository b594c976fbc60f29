"""Ranking benchmark: top-1 accuracy and chains spent per method on verifiable groups.

Each group is a two-digit addition question with N candidate answers, exactly one of them
right (the wrong ones are off by a few units, some with the right reasoning and a slipped
last step). Every method ranks the same groups with the same judge, k and max_tokens, side
by side; top-1 accuracy is the share of groups whose best-ranked candidate is the right one
(chance is 1/N). This departs from RRM's evaluation (ranking sampled policy outputs on math
benchmarks) by using synthetic groups whose truth is known by construction, so it runs
offline on a CPU.

    .venv/bin/python scripts/bench_ranking.py --groups 6 --n 8 --k 2 --max-tokens 32
    .venv/bin/python scripts/bench_ranking.py --json /tmp/ranking.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from datetime import date

from tqdm import tqdm

from grm import RewardModel
from grm.ranking import RankConfig, RankItem, method_names


def make_group(rng: random.Random, n: int) -> tuple[RankItem, int]:
    """One question, n candidate answers, the index of the right one."""
    x, y = rng.randint(10, 89), rng.randint(10, 89)
    right = x + y
    wrong: set[int] = set()
    while len(wrong) < n - 1:
        w = right + rng.choice([-1, 1]) * rng.randint(1, 12)
        if w != right and w > 0:
            wrong.add(w)
    answers = [right, *sorted(wrong)]
    rng.shuffle(answers)
    styles = [
        "{v}",
        "The answer is {v}.",
        "{x} + {y} = {v}",
        "Adding {x} and {y} gives {v}.",
    ]
    cands = tuple(rng.choice(styles).format(x=x, y=y, v=v) for v in answers)
    return RankItem(f"What is {x} + {y}?", cands), answers.index(right)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--groups", type=int, default=6, help="candidate groups to rank")
    p.add_argument("--n", type=int, default=8, help="candidates per group (one right)")
    p.add_argument("--k", type=int, default=2, help="chains per comparison")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--methods", nargs="+", default=method_names(), choices=method_names())
    p.add_argument("--engine", default="transformers")
    p.add_argument("--model", default=None, help="checkpoint (default: embedded)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument(
        "--threads", type=int, default=None,
        help="torch CPU threads (1 is several times faster on a busy shared machine)",
    )  # fmt: skip
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    rng = random.Random(args.seed)
    groups = [make_group(rng, args.n) for _ in range(args.groups)]
    rm = RewardModel.load(
        args.model, engine=args.engine, max_tokens=args.max_tokens, seed=args.seed
    )
    cfg = RankConfig(bootstrap=0, seed=args.seed)
    rows = []
    for method in tqdm(args.methods, desc="methods"):
        start = time.perf_counter()
        # One group at a time, so seconds and chains are per group and comparable.
        ranks = [
            rm.rank_batch([item], method, args.k, cfg)[0]
            for item, _ in tqdm(groups, desc=method, leave=False)
        ]
        wall = time.perf_counter() - start
        hits = [r.best == truth for r, (_, truth) in zip(ranks, groups, strict=True)]
        rows.append(
            {
                "method": method,
                "top1": sum(hits) / len(hits),
                "chains_per_group": sum(r.chains for r in ranks) / len(ranks),
                "comparisons_per_group": sum(r.comparisons for r in ranks) / len(ranks),
                "rounds_per_group": sum(r.rounds for r in ranks) / len(ranks),
                "tokens_per_group": sum(r.tokens for r in ranks) / len(ranks),
                "tiebreaks_per_group": sum(r.tiebreaks for r in ranks) / len(ranks),
                "forced_share": sum(x.forced for r in ranks for x in r.results)
                / max(sum(r.chains for r in ranks), 1),
                "seconds_per_group": wall / len(ranks),
            }
        )
    rm.close()
    out = {
        "command": "python " + " ".join(sys.argv),
        "date": date.today().isoformat(),
        "machine": platform.machine(),
        "threads": args.threads,
        "groups": args.groups,
        "n": args.n,
        "k": args.k,
        "max_tokens": args.max_tokens,
        "chance_top1": 1 / args.n,
        "rows": rows,
    }
    print(
        f"{args.groups} groups of {args.n} (one right), k={args.k}, "
        f"max_tokens={args.max_tokens}, chance top-1 = {1 / args.n:.3f}"
    )
    print(
        "| method | top-1 | chains/group | comparisons | rounds | tokens/group | "
        "tie-breaks | forced | s/group |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['method']} | {r['top1']:.2f} | {r['chains_per_group']:.1f} | "
            f"{r['comparisons_per_group']:.1f} | {r['rounds_per_group']:.1f} | "
            f"{r['tokens_per_group']:.0f} | {r['tiebreaks_per_group']:.1f} | "
            f"{r['forced_share']:.2f} | {r['seconds_per_group']:.1f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
