"""Seconds per GRPO step: TRL generation with transformers against TRL's colocated vLLM.

Both runs use the same judge checkpoint, data, batch (one pair in both orders x 4 chains)
and ``max_completion_length``; only ``use_vllm`` differs (on CPU the colocated engine's weight
sync goes through :mod:`grm.training.vllm_sync`). A run that fails records its error instead
of a time. The first step of each mode includes warm-up; the table gives every step.

    .venv/bin/python scripts/train_grpo_speed.py --model runs/judge-sft --steps 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """One mode in a fresh interpreter: vLLM on CPU sizes its KV cache from the memory the
    process already holds, so it must not follow a transformers run in the same process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mode.json"
        cmd = [sys.executable, __file__, "--only", mode, "--json", str(out)]
        cmd += ["--steps", str(args.steps), "--threads", str(args.threads)]
        cmd += ["--max-completion-length", str(args.max_completion_length)]
        if args.model:
            cmd += ["--model", args.model]
        proc = subprocess.run(cmd, check=False)
        if not out.is_file():
            return {"error": f"the {mode} run exited with {proc.returncode} and no result"}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--max-completion-length", type=int, default=80)
    p.add_argument("--threads", type=int, default=1, help="torch threads (as torch_threads)")
    p.add_argument("--modes", nargs="+", default=["transformers", "vllm"])
    p.add_argument("--only", default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if args.only:
        from grm.benchmarks.train_speed import time_steps

        res = time_steps(
            args.model, args.steps, args.only == "vllm", args.max_completion_length, args.threads
        )
        Path(args.json).write_text(json.dumps(res))
        return
    report = {}
    for mode in args.modes:
        res = run_mode(args, mode)
        report[mode] = res
        print(f"# {mode}: {json.dumps(res)}", flush=True)
    print("\n| generation | seconds per GRPO step | setup s | note |\n|---|---|---|---|")
    for mode, res in report.items():
        if "error" in res:
            print(f"| {mode} | failed | - | {res['error']} |")
        else:
            steps = ", ".join(f"{s:.0f}" for s in res["step_s"])
            print(
                f"| {mode} | {res['mean_step_s']:.1f} (steps: {steps}) | {res['setup_s']:.0f} | |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
