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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    from bench_throughput import make_requests, rendered
    from grm.inference import load_engine
    from grm.inference.base import choice_token_ids
    from grm.inference.vllm_force import force_extra_args
    from vllm import SamplingParams

    from grm import JudgeConfig, RewardModel
    from grm.judges import resolve_model

    engine = load_engine("vllm", resolve_model(None))
    rm = RewardModel(engine, config=JudgeConfig(max_tokens=args.max_tokens, temperature=0.7))
    llm = engine.llm  # type: ignore[attr-defined]
    pairs = rendered(rm, make_requests(args.requests), args.k)
    prompts = [{"prompt_token_ids": engine.encode(p)} for p, _ in pairs]  # type: ignore[attr-defined]
    prefix_text = "\n" + rm.template.verdict_prefix
    prefix = engine.encode(prefix_text)  # type: ignore[attr-defined]
    choices = choice_token_ids(engine.encode, prefix_text, rm.template.choices)  # type: ignore[attr-defined]
    force = {"extra_args": force_extra_args(args.max_tokens, prefix, choices)}
    variants: dict[str, dict] = {
        "raw": {},
        "logprob_token_ids": {"logprob_token_ids": choices},
        "processor": force,
        "both (forcing=inline)": {"logprob_token_ids": choices, **force},
    }
    llm.generate(prompts, SamplingParams(max_tokens=1), use_tqdm=False)  # warm the cache
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.repeats):
        for name, kw in variants.items():
            params = [
                SamplingParams(n=n, temperature=0.7, max_tokens=args.max_tokens, **kw)
                for _, n in pairs
            ]
            start = time.perf_counter()
            outs = llm.generate(prompts, params, use_tqdm=False)
            secs = time.perf_counter() - start
            tokens = sum(len(c.token_ids) for o in outs for c in o.outputs)
            print(f"{name}: {secs:.2f} s, {tokens} tokens", flush=True)
            if name not in best or secs < best[name][0]:
                best[name] = (secs, tokens)
    base = best["raw"][1] / best["raw"][0]
    print("| variant | seconds | tokens | tokens/s | vs raw |")
    print("|---|---|---|---|---|")
    for name, (secs, tokens) in best.items():
        rate = tokens / secs
        print(f"| {name} | {secs:.1f} | {tokens:,} | {rate:.0f} | {rate / base:.2f} |")
    rm.close()


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
