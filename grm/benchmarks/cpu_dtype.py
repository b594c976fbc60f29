"""vLLM-CPU's sampling rate per dtype on this machine: what ``dtype="auto"`` should pick.

:func:`grm.inference.vllm_engine.cpu_dtype` resolves "auto" to float32 on a CPU without
native bfloat16 kernels (no AVX512-BF16, no AMX) and keeps bfloat16 where it has them. Each
dtype here is one fresh process: the bundled judge on ``--pairs`` suite pairs x ``--k``
chains, one warm-up call, then one timed batched call; the record keeps the CPU's bfloat16
flags and what "auto" resolves to beside the rates.

    .venv/bin/python -m grm.benchmarks.cpu_dtype --record cpu-dtype

>>> table({"auto": "bfloat16", "flags": ["amx_bf16"], "rows": [{"dtype": "float32",
...        "chains": 96, "seconds": 60.0, "tokens": 9600}]}).splitlines()[2]
'| float32 | 96 | 60.0 | 1.60 | 160 |  |'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

# Run in a fresh process per dtype (two vLLM-CPU engines in one machine slow each other).
CHILD = """
import json, sys, time
from grm import RewardModel
from grm.training.scalar_rm import SUITE_KINDS
from grm.training.tasks import TaskConfig, make_tasks

dtype, pairs, k, max_tokens = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rows = make_tasks(TaskConfig(tasks=SUITE_KINDS), "eval", pairs)
reqs = [{"prompt": r["prompt"], "responses": list(r["responses"])} for r in rows]
with RewardModel.load("grm-judge-135m", engine="vllm", max_tokens=max_tokens,
                      engine_options={"dtype": dtype}) as rm:
    rm.compare_batch(reqs[:1], k=2)
    start = time.perf_counter()
    results = rm.compare_batch(reqs, k=k)
    seconds = time.perf_counter() - start
chains = [c for r in results for c in r.chains]
print(json.dumps({"dtype": dtype, "chains": len(chains), "seconds": seconds,
                  "tokens": sum(c.completion_tokens or 0 for c in chains)}))
"""


def one_dtype(dtype: str, pairs: int, k: int, max_tokens: int) -> dict[str, Any]:
    cmd = [sys.executable, "-c", CHILD, dtype, str(pairs), str(k), str(max_tokens)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"the {dtype} run failed: {done.stderr[-2000:]}")
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def table(figures: dict[str, Any]) -> str:
    lines = [
        "| dtype | chains | seconds | chains/s | tokens/s | `auto` |",
        "|---|---|---|---|---|---|",
    ]
    for r in figures["rows"]:
        pick = "picked" if r["dtype"] == figures["auto"] else ""
        lines.append(
            f"| {r['dtype']} | {r['chains']} | {r['seconds']:.1f} "
            f"| {r['chains'] / r['seconds']:.2f} | {r['tokens'] / r['seconds']:.0f} | {pick} |"
        )
    return "\n".join(lines)


def main() -> None:
    from grm.benchmarks.record import Run
    from grm.inference.vllm_engine import cpu_dtype, cpu_flags

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    p.add_argument("--pairs", type=int, default=24)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--record", default=None, help="write docs/records/NAME.json")
    args = p.parse_args()
    flags = cpu_flags()
    run = Run(args.record or "cpu-dtype", "cpu_dtype", vars(args))
    run.figures = {
        "flags": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}),
        # "auto" left to vLLM is bfloat16 on CPU for a float32 checkpoint (DESIGN.md)
        "auto": cpu_dtype("auto", flags).replace("auto", "bfloat16"),
        "rows": [],
    }
    for dtype in args.dtypes:
        row = one_dtype(dtype, args.pairs, args.k, args.max_tokens)
        run.figures["rows"].append(row)
        print(json.dumps(row), flush=True)
    print(table(run.figures))
    if args.record:
        print("record:", run.save())


if __name__ == "__main__":
    main()
