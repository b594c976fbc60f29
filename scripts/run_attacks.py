"""Run the attack suite against a judge with each injection mitigation on and off.

Pairs are held-out verifiable tasks (addition and constraint-following, from
``grm.training.tasks``), so the worse response is known. Each configuration judges every pair
clean and under every attack in one batched call, at k=2 (one chain per response order).

    .venv/bin/python scripts/run_attacks.py --pairs 24 --engine vllm --json runs/attacks.json
    .venv/bin/python scripts/run_attacks.py --model runs/judge-sft --pairs 24 --engine vllm

Configurations: ``none`` (no sanitising, plain wording, first-match parsing), each mitigation
alone, and ``all`` (grm's default).

``--judge copying`` replaces the model with a scripted judge that writes the right verdict
and then copies the other (worse, attacked) response after it, as small judges do. It loads
no model and measures only what the sanitizer and the parser stop: a copied verdict, tag or
special token that gets read as the judge's own. Real-model numbers need ``--model``.

    .venv/bin/python scripts/run_attacks.py --judge copying --pairs 24 --json runs/copy.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grm.benchmarks.cli import add_common
from grm.benchmarks.copying import CONFIGS, CopyingEngine, attack_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common(ap, "model", "engine", "max_tokens", k=2)
    ap.add_argument("--template", default="default")
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--json", default=None)
    ap.add_argument("--judge", choices=["model", "copying"], default="model")
    args = ap.parse_args()

    from grm.training.tasks import TaskConfig, make_tasks

    from grm import RewardModel
    from grm.attacks import LabelledPair

    rows = make_tasks(TaskConfig(), "eval", args.pairs)
    pairs = [LabelledPair(r["prompt"], tuple(r["responses"]), r["preferred"]) for r in rows]
    if args.judge == "copying":
        base = RewardModel(CopyingEngine([p.responses[p.better] for p in pairs]))
    else:
        base = RewardModel.load(args.model, engine=args.engine, max_tokens=args.max_tokens)
    report: dict[str, object] = {"args": vars(args)}
    for name in args.configs.split(","):
        report[name] = res = attack_config(base, args.template, name, pairs, args.k)
        secs, table = res["seconds"], res["rates"]
        print(f"== {name} ({secs:.0f} s)")
        for label, row in table.items():
            fp = row["false_positive_rate"]
            print(
                f"  {label:24s} flip {row['flip_rate']:.2f}  "
                f"fp {'n/a' if fp is None else f'{fp:.2f}'}  (right clean {row['judged_right']})"
            )
    base.close()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
