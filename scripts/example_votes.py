"""Vote splits of a judge on a pair in both response orders, over several seeds.

Checks that an example is decided robustly, not by one lucky draw: the pair is judged as given
(the right response labelled ``label``) and swapped, ``--reps`` times per seed, with the
judge's card defaults and the main job's k. One JSON line per judgement, then a summary.

    python scripts/example_votes.py --engine transformers --seeds 0,1,2
    python scripts/example_votes.py --engine vllm --seeds 1 --reps 4

Both orders go in one ``compare_batch`` call with seed ``100*seed+rep``. With vLLM on CPU
the seed is the engine's (one engine per seed) and repetitions in one engine are further
independent draws.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources
from pathlib import Path

from grm.benchmarks.cli import add_common


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--example", default=None, help="JSON pair (default: the bundled example)")
    engine = {"default": "transformers", "choices": ["transformers", "vllm"]}
    add_common(p, "k", model="grm-judge-135m", engine=engine)
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--reps", type=int, default=1, help="judgements per seed and order")
    args = p.parse_args()
    text = (
        Path(args.example).read_text()
        if args.example
        else resources.files("grm").joinpath("data/example.json").read_text()
    )
    item = json.loads(text)
    right = "AB".index(item["label"])
    pair = item["responses"]
    orders = {"A": pair if right == 0 else pair[::-1], "B": pair[::-1] if right == 0 else pair}
    from grm import RewardModel

    splits = []
    for seed in (int(s) for s in args.seeds.split(",")):
        opts = {"seed": seed} if args.engine == "vllm" else {}
        rm = RewardModel.load(args.model, engine=args.engine, engine_options=opts, k=args.k)
        for rep in range(args.reps):
            start = time.perf_counter()
            requests = [{"prompt": item["prompt"], "responses": r} for r in orders.values()]
            results = rm.compare_batch(requests, seed=seed * 100 + rep)
            seconds = round(time.perf_counter() - start, 1)
            for label, v in zip(orders, results, strict=True):
                splits.append(v.votes["AB".index(label)])
                row = {
                    "engine": args.engine,
                    "seed": seed,
                    "rep": rep,
                    "right": label,
                    "votes": list(v.votes),
                    "ties": v.ties,
                    "abstentions": v.abstentions,
                    "winner": v.label,
                    "seconds": seconds,
                }
                print(json.dumps(row), flush=True)
        rm.close()
    print(
        f"right response's votes of {args.k}: {splits}; decided right in "
        f"{sum(s > args.k / 2 for s in splits)} of {len(splits)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
