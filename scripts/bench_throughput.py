"""Judgments per second at k=8 on 32 pairwise requests, three ways, side by side in one run.

(a) grm with the vLLM engine: ``RewardModel.compare_batch`` — one batched generate call for
    all 32 x 8 chains, parsing, and the verdict forced for unparsed chains: in-line while
    they are sampled (``forcing="inline"``), or in a second pass that continues their token
    ids from the prefix cache (``forcing="pass"``, the default). Also shown with
    ``on_unparsed="abstain"``, which forces nothing; ``--text-forcing`` adds the pass sent
    as re-tokenised text instead of the chains' own token ids;
(b) raw ``vllm.LLM.generate`` on exactly the same rendered prompts and ``n`` (the limit);
(c) a per-request transformers ``generate(num_return_sequences=8)`` loop, what most judge
    code does.

Goal: (a) >= 0.95 x (b) and (a) >= 3 x (c). Run:

    .venv/bin/python scripts/bench_throughput.py --requests 32 --k 8 --max-tokens 64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grm.benchmarks.cli import add_common
from grm.benchmarks.data import addition_requests
from grm.benchmarks.record import Run, header
from grm.benchmarks.throughput import VLLMContenders
from grm.benchmarks.timing import side_by_side, transformers_loop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    add_common(ap, "k", "max_tokens")
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument(
        "--text-forcing",
        action="store_true",
        help="also time grm with the forced prompts sent as text (re-tokenised)",
    )
    ap.add_argument("--block-size", type=int, default=None, help="vLLM KV-cache block size")
    add_common(ap, "json", "record", "model", temperature=0.7)
    ap.add_argument(
        "--repeats", type=int, default=1, help="rounds over all contenders; each keeps its best"
    )
    args = ap.parse_args()

    from grm.inference import load_engine

    from grm import JudgeConfig, RewardModel
    from grm.judges import resolve_model

    run = Run(args.record or "bench_throughput", "bench_throughput", vars(args))
    path = resolve_model(args.model)
    requests = addition_requests(args.requests)
    options = {} if args.block_size is None else {"block_size": args.block_size}
    engine = load_engine("vllm", path, **options)
    cfg = JudgeConfig(max_tokens=args.max_tokens, temperature=args.temperature)
    rm = RewardModel(engine, config=cfg)
    bench = VLLMContenders(rm, requests, args.k)
    block = bench.block_size
    print("vLLM KV-cache block size", block)
    bench.warm_up()
    contenders = bench.contenders(args.text_forcing)
    rows = side_by_side(
        contenders, args.repeats, lambda name, row: print(name, json.dumps(row), flush=True)
    )
    rm.close()
    if not args.skip_transformers:
        # One order per request, n = k chains.
        prompts = [p for p, _ in bench.pairs[::2]]
        rows["c_transformers_loop"] = transformers_loop(
            path, prompts, args.k, args.max_tokens, args.temperature
        )
        print("c_transformers_loop", json.dumps(rows["c_transformers_loop"]))

    b = rows["b_raw_vllm"]["judgments_per_s"]
    a = rows["a_grm_vllm"]["judgments_per_s"]
    summary = {
        "a_over_b": a / b,
        "a_over_b_tokens": rows["a_grm_vllm"]["tokens_per_s"] / rows["b_raw_vllm"]["tokens_per_s"],
        "a_inline_over_b": rows["a_grm_vllm_inline"]["judgments_per_s"] / b,
        "a_abstain_over_b": rows["a_grm_vllm_abstain"]["judgments_per_s"] / b,
        "block_size": block,
    }
    if "a_grm_vllm_text_forcing" in rows:
        summary["a_text_forcing_over_b"] = rows["a_grm_vllm_text_forcing"]["judgments_per_s"] / b
    if "c_transformers_loop" in rows:
        summary["a_over_c"] = a / rows["c_transformers_loop"]["judgments_per_s"]
    print("summary", json.dumps(summary))
    report = {"args": vars(args), **header(run), "rows": rows, "summary": summary}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.record:
        run.figures = {"rows": rows, "summary": summary}
        run.save()


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
