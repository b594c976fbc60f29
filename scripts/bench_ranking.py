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
import random
import sys
from pathlib import Path

from tqdm import tqdm

from grm import RewardModel
from grm.benchmarks.cli import add_common, set_threads
from grm.benchmarks.data import rank_group
from grm.benchmarks.ranking import rank_method, table
from grm.benchmarks.record import Run, header
from grm.ranking import RankConfig, method_names


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--groups", type=int, default=6, help="candidate groups to rank")
    p.add_argument("--n", type=int, default=8, help="candidates per group (one right)")
    p.add_argument("--methods", nargs="+", default=method_names(), choices=method_names())
    add_common(p, "k", "max_tokens", "engine", "model", "seed", "json", "record", "threads")
    p.set_defaults(k=2, max_tokens=32, engine="transformers")
    args = p.parse_args()
    set_threads(args)

    run = Run(args.record or "bench_ranking", "bench_ranking", vars(args))
    rng = random.Random(args.seed)
    groups = [rank_group(rng, args.n) for _ in range(args.groups)]
    rm = RewardModel.load(
        args.model, engine=args.engine, max_tokens=args.max_tokens, seed=args.seed
    )
    cfg = RankConfig(bootstrap=0, seed=args.seed)
    rows = [
        rank_method(rm, m, groups, args.k, cfg, run) for m in tqdm(args.methods, desc="methods")
    ]
    rm.close()
    out = {
        **header(run),
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
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    if args.record:
        run.data["rows"] = rows
        run.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
