"""Train a judge on a user-shaped preference file and measure it on the held-out prompts.

The file goes through ``grm train``'s own data path (check, length filter, split by
prompt); the judge is measured on the held-out split before and after a short GRPO run, at
k=1 and k=8 from one pass of 8 position-balanced chains per pair (k=1 is the mean single
chain), with 95% bootstrap intervals over pairs. Training runs as ``grm train`` in its own
process with the held-out callback off (the evaluations here use vLLM, which prefills each
prompt once instead of once per chain).

    .venv/bin/python scripts/train_user_data.py training/configs/user-data-cpu.yaml \\
        --data ../shared/data/judgebench-gpt4o.jsonl --out runs/user-data-bench \\
        --max-steps 3 --engine vllm --json docs/train_user_data.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any


def _evaluate(model: str | None, rows: list[dict[str, Any]], cfg: Any, engine: str) -> dict:
    from grm.training.heldout import heldout_metrics, judge_rows

    from grm import RewardModel

    start = time.perf_counter()
    options = {"max_model_len": 4096} if engine == "vllm" else {}
    with RewardModel.load(
        model,
        engine=engine,
        template=cfg.template,
        engine_options=options,
        max_tokens=cfg.heldout_max_tokens,
        temperature=float(cfg.grpo.get("temperature", 1.0)),
    ) as rm:
        loaded = time.perf_counter() - start
        chains = judge_rows(rm, rows, max(cfg.heldout_ks), seed=cfg.seed)
    metrics = heldout_metrics(chains, [r["preferred"] for r in rows], cfg.heldout_ks, cfg.seed)
    metrics["load_seconds"] = loaded
    metrics["seconds"] = time.perf_counter() - start - loaded
    return metrics


def main() -> None:
    from grm.training.config import TrainConfig
    from grm.training.user_data import prepare_for

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("config", help="a grm train YAML")
    p.add_argument("--data", required=True, help="the preference file")
    p.add_argument("--out", default="runs/user-data-bench")
    p.add_argument("--max-steps", type=int, default=None, help="override grpo.max_steps")
    p.add_argument("--engine", default="vllm", help="engine for the held-out evaluations")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args()

    cfg = TrainConfig.from_yaml(args.config, data=args.data, output_dir=args.out)
    if args.max_steps is not None:
        cfg.grpo = {**cfg.grpo, "max_steps": args.max_steps}
    cfg.heldout_every = 0  # measured here, with the faster engine
    report = prepare_for(cfg)
    held = report.heldout
    print(json.dumps(report.summary(), indent=2), flush=True)

    results: dict[str, Any] = {"data": report.summary(), "heldout_pairs": len(held)}
    results["before"] = _evaluate(cfg.model, held, cfg, args.engine)
    print("before:", json.dumps(results["before"]), flush=True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run_cfg = out / "run.yaml"
    import yaml

    raw = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()}
    raw["tasks"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in raw["tasks"].items()}
    run_cfg.write_text(yaml.safe_dump(raw))
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "grm.cli", "train", str(run_cfg)]
    subprocess.run(cmd, check=True)
    results["train_seconds"] = time.perf_counter() - start
    results["train_summary"] = json.loads((out / "summary.json").read_text())

    results["after"] = _evaluate(str(out), held, cfg, args.engine)
    print("after:", json.dumps(results["after"]), flush=True)

    ks = cfg.heldout_ks
    print(f"\n| judge | n | {' | '.join(f'k={k} (95% CI)' for k in ks)} | parsed chains |")
    print("|---|---|" + "---|" * (len(ks) + 1))
    for name in ("before", "after"):
        m = results[name]
        cells = " | ".join(
            f"{m[f'accuracy_k{k}']:.1%} ({m[f'ci95_lo_k{k}']:.0%}-{m[f'ci95_hi_k{k}']:.0%})"
            for k in ks
        )
        print(f"| {name} | {int(m['n'])} | {cells} | {m['parsed_rate']:.0%} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
