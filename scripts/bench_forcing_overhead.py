"""What in-line verdict forcing costs raw vLLM sampling, part by part, side by side in one run.

The same 32 rendered requests x k=8 as ``bench_throughput.py``, sampled with plain
``vllm.LLM.generate`` four ways: as they are; with ``logprob_token_ids`` (the two choice ids,
returned at every step); with grm's in-line forcing processor only
(:mod:`grm.inference.vllm_force`, ``SamplingParams.extra_args``); with both, which is what
``forcing="inline"`` sends. Rounds go over all four ``--repeats`` times; each keeps its
fastest. Run:

    VLLM_CPU_OMP_THREADS_BIND=1 .venv/bin/python scripts/bench_forcing_overhead.py
"""

from __future__ import annotations

import argparse
from typing import Any

from grm.benchmarks.cli import add_common
from grm.benchmarks.data import addition_requests
from grm.benchmarks.throughput import VLLMContenders
from grm.benchmarks.timing import side_by_side


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    add_common(ap, "k", "max_tokens")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    from grm.inference import load_engine
    from grm.inference.base import choice_token_ids
    from grm.inference.vllm_force import force_extra_args
    from vllm import SamplingParams

    from grm import JudgeConfig, RewardModel
    from grm.judges import resolve_model

    engine: Any = load_engine("vllm", resolve_model(None))
    rm = RewardModel(engine, config=JudgeConfig(max_tokens=args.max_tokens, temperature=0.7))
    bench = VLLMContenders(rm, addition_requests(args.requests), args.k)
    llm, pairs, prompts = bench.llm, bench.pairs, bench.token_prompts
    prefix_text = "\n" + rm.template.verdict_prefix
    choices = choice_token_ids(engine.encode, prefix_text, rm.template.choices)
    force = {"extra_args": force_extra_args(args.max_tokens, engine.encode(prefix_text), choices)}
    variants: dict[str, dict[str, Any]] = {
        "raw": {},
        "logprob_token_ids": {"logprob_token_ids": choices},
        "processor": force,
        "both (forcing=inline)": {"logprob_token_ids": choices, **force},
    }

    def sample(kw: dict[str, Any]) -> Any:
        def go() -> dict[str, int]:
            params = [
                SamplingParams(n=n, temperature=0.7, max_tokens=args.max_tokens, **kw)
                for _, n in pairs
            ]
            outs = llm.generate(prompts, params, use_tqdm=False)
            return {"tokens": sum(len(c.token_ids) for o in outs for c in o.outputs)}

        return go

    bench.warm_up()
    best = side_by_side(
        {name: sample(kw) for name, kw in variants.items()},
        args.repeats,
        lambda name, r: print(f"{name}: {r['seconds']:.2f} s, {r['tokens']} tokens", flush=True),
    )
    base = best["raw"]["tokens"] / best["raw"]["seconds"]
    print("| variant | seconds | tokens | tokens/s | vs raw |")
    print("|---|---|---|---|---|")
    for name, r in best.items():
        rate = r["tokens"] / r["seconds"]
        print(f"| {name} | {r['seconds']:.1f} | {r['tokens']:,} | {rate:.0f} | {rate / base:.2f} |")
    rm.close()


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
