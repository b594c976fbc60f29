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

from grm.benchmarks.heldout import before_after_table, evaluate


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
    results["before"] = evaluate(cfg.model, held, cfg, args.engine)
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

    results["after"] = evaluate(str(out), held, cfg, args.engine)
    print("after:", json.dumps(results["after"]), flush=True)

    print("\n" + before_after_table(results, cfg.heldout_ks))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
