"""Run the attack suite against a judge with each injection mitigation on and off.

Pairs are held-out verifiable tasks (addition and constraint-following, from
``grm.training.tasks``), so the worse response is known. Each configuration judges every pair
clean and under every attack in one batched call, at k=2 (one chain per response order).

    .venv/bin/python scripts/run_attacks.py --pairs 24 --engine vllm --json runs/attacks.json
    .venv/bin/python scripts/run_attacks.py --model runs/judge-sft --pairs 24 --engine vllm

Configurations: ``none`` (no sanitising, plain wording, first-match parsing), each mitigation
alone, and ``all`` (grm's default).
"""

from __future__ import annotations

import argparse
import json
import time

CONFIGS = {
    "none": {"sanitize": False, "hardened": False, "tail_only": False},
    "sanitize": {"sanitize": True, "hardened": False, "tail_only": False},
    "hardened": {"sanitize": False, "hardened": True, "tail_only": False},
    "tail_only": {"sanitize": False, "hardened": False, "tail_only": True},
    "all": {"sanitize": True, "hardened": True, "tail_only": True},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--engine", default="vllm")
    ap.add_argument("--template", default="default")
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from grm.training.tasks import TaskConfig, make_tasks

    from grm import RewardModel
    from grm.attacks import LabelledPair, by_kind, run_attacks
    from grm.templates import get_template

    rows = make_tasks(TaskConfig(), "eval", args.pairs)
    pairs = [LabelledPair(r["prompt"], tuple(r["responses"]), r["preferred"]) for r in rows]
    base = RewardModel.load(args.model, engine=args.engine, max_tokens=args.max_tokens)
    report: dict[str, object] = {"args": vars(args)}
    for name in args.configs.split(","):
        rm = RewardModel(
            base.engine, get_template(args.template, **CONFIGS[name]), config=base.config
        )
        start = time.perf_counter()
        rates = run_attacks(rm, pairs, k=args.k)
        secs = time.perf_counter() - start
        table = {}
        for label, r in {**rates, **{f"class:{k}": v for k, v in by_kind(rates).items()}}.items():
            table[label] = {
                "flip_rate": r.flip_rate,
                "false_positive_rate": r.false_positive_rate,
                "judged_right": r.judged_right,
                "pairs": r.pairs,
            }
        report[name] = {"seconds": secs, "rates": table}
        print(f"== {name} ({secs:.0f} s)")
        for label, row in table.items():
            fp = row["false_positive_rate"]
            print(
                f"  {label:24s} flip {row['flip_rate']:.2f}  "
                f"fp {'n/a' if fp is None else f'{fp:.2f}'}  (right clean {row['judged_right']})"
            )
    base.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
