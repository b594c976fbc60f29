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
import os
import platform
import random
import time


def make_requests(n: int, seed: int = 0) -> list:  # list[JudgeRequest]
    from grm import JudgeRequest

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y = rng.randint(10, 99), rng.randint(10, 99)
        right, wrong = x + y, x + y + rng.choice([-10, -1, 1, 10])
        a, b = (right, wrong) if rng.random() < 0.5 else (wrong, right)
        out.append(JudgeRequest(f"What is {x} + {y}?", (f"{x} + {y} = {a}.", f"{x} + {y} = {b}.")))
    return out


def rendered(rm, requests, k):  # type: ignore[no-untyped-def]
    """The exact (prompt, n) pairs grm sends to the engine for these requests."""
    from grm.judge import _prompt, plan_orders, prepare

    pairs = []
    for i, r in enumerate(requests):
        prep = prepare(rm.engine, rm.template, r, i, rm.config.with_(k=k))
        counts: dict[tuple[int, ...], int] = {}
        for o in plan_orders("pairwise", 2, 0, k, (rm.config.seed, i), rm.config.with_(k=k)):
            counts[o] = counts.get(o, 0) + 1
        pairs += [(_prompt(rm.engine, rm.template, prep, o), n) for o, n in counts.items()]
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--skip-transformers", action="store_true")
    ap.add_argument(
        "--text-forcing",
        action="store_true",
        help="also time grm with the forced prompts sent as text (re-tokenised)",
    )
    ap.add_argument("--block-size", type=int, default=None, help="vLLM KV-cache block size")
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument(
        "--model",
        default=None,
        help="a checkpoint or bundled judge name (default: the embedded base model)",
    )
    ap.add_argument("--temperature", type=float, default=0.7, help="for every contender")
    ap.add_argument(
        "--repeats", type=int, default=1, help="rounds over all contenders; each keeps its best"
    )
    args = ap.parse_args()

    from grm.inference import load_engine
    from vllm import SamplingParams

    from grm import JudgeConfig, RewardModel
    from grm.judges import resolve_model

    path = resolve_model(args.model)
    requests = make_requests(args.requests)
    options = {} if args.block_size is None else {"block_size": args.block_size}
    engine = load_engine("vllm", path, **options)
    rm = RewardModel(
        engine, config=JudgeConfig(max_tokens=args.max_tokens, temperature=args.temperature)
    )
    llm = rm.engine.llm  # type: ignore[attr-defined]
    block = llm.llm_engine.vllm_config.cache_config.block_size
    print("vLLM KV-cache block size", block)
    # Time the forced pass apart; --text-forcing sends its prompts as plain text.
    choice_logprobs = engine.choice_logprobs
    forcing = {"seconds": 0.0, "as_text": False}

    def timed_choice(prompts, choices):  # type: ignore[no-untyped-def]
        if forcing["as_text"]:
            prompts = [str(p) for p in prompts]
        start = time.perf_counter()
        try:
            return choice_logprobs(prompts, choices)
        finally:
            forcing["seconds"] += time.perf_counter() - start

    engine.choice_logprobs = timed_choice  # type: ignore[method-assign]
    pairs = rendered(rm, requests, args.k)
    params = [
        SamplingParams(n=n, temperature=args.temperature, max_tokens=args.max_tokens)
        for _, n in pairs
    ]
    token_prompts = [{"prompt_token_ids": rm.engine.encode(p)} for p, _ in pairs]  # type: ignore[attr-defined]

    def raw() -> int:
        outs = llm.generate(token_prompts, params, use_tqdm=False)
        return sum(len(c.token_ids) for o in outs for c in o.outputs)

    forced_counts: dict[str, int] = {}

    def grm_run(policy: str, as_text: bool = False, how: str = "pass") -> int:
        forcing["as_text"] = as_text
        res = rm.compare_batch(requests, k=args.k, on_unparsed=policy, forcing=how)
        forced_counts["last"] = sum(r.forced for r in res)
        return sum(r.completion_tokens for r in res)

    # Warm-up: first-call overheads, and every prompt in the prefix cache for both sides alike
    # (one prefill-only step per prompt; the chains sampled later are fresh for every side).
    llm.generate(token_prompts, SamplingParams(max_tokens=1), use_tqdm=False)
    rows = {}
    contenders = [
        ("b_raw_vllm", raw),
        ("a_grm_vllm", lambda: grm_run("force")),
        ("a_grm_vllm_inline", lambda: grm_run("force", how="inline")),
        ("a_grm_vllm_abstain", lambda: grm_run("abstain")),
    ]
    if args.text_forcing:
        contenders.append(("a_grm_vllm_text_forcing", lambda: grm_run("force", as_text=True)))
    chains = len(requests) * args.k
    # Round-robin over the contenders, --repeats times; each keeps its fastest round, so a
    # burst of load on a shared machine does not land on one side only.
    for _ in range(args.repeats):
        for name, fn in contenders:
            forcing["seconds"], forced_counts["last"] = 0.0, 0
            stats = engine.stats()
            start = time.perf_counter()
            tokens = fn()
            secs = time.perf_counter() - start
            after = engine.stats()
            row = {
                "seconds": secs,
                "judgments_per_s": len(requests) / secs,
                "chains_per_s": chains / secs,
                "completion_tokens": tokens,
                "tokens_per_s": tokens / secs,
                "forced_chains": forced_counts["last"],
                "forcing_seconds": forcing["seconds"],
                "forcing_prompt_tokens": after["choice_prompt_tokens"]
                - stats["choice_prompt_tokens"],
                "forcing_cached_tokens": after["choice_cached_tokens"]
                - stats["choice_cached_tokens"],
            }
            print(name, json.dumps(row), flush=True)
            if name not in rows or secs < rows[name]["seconds"]:
                rows[name] = row
    rm.close()

    if not args.skip_transformers:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        prompts = [p for p, _ in pairs[::2]]  # one order per request, n = k chains
        torch.manual_seed(0)
        start, tokens = time.perf_counter(), 0
        for p in prompts:
            enc = tok(p, return_tensors="pt", add_special_tokens=False)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=args.temperature,
                    top_k=None,
                    max_new_tokens=args.max_tokens,
                    num_return_sequences=args.k,
                    pad_token_id=tok.eos_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            tokens += int((new != tok.eos_token_id).sum())
        secs = time.perf_counter() - start
        rows["c_transformers_loop"] = {
            "seconds": secs,
            "judgments_per_s": len(prompts) / secs,
            "chains_per_s": len(prompts) * args.k / secs,
            "completion_tokens": tokens,
            "tokens_per_s": tokens / secs,
        }
        print("c_transformers_loop", json.dumps(rows["c_transformers_loop"]))

    a, b = rows["a_grm_vllm"]["judgments_per_s"], rows["b_raw_vllm"]["judgments_per_s"]
    tok_b = rows["b_raw_vllm"]["tokens_per_s"]
    summary = {
        "a_over_b": a / b,
        "a_over_b_tokens": rows["a_grm_vllm"]["tokens_per_s"] / tok_b,
        "a_inline_over_b": rows["a_grm_vllm_inline"]["judgments_per_s"] / b,
        "a_abstain_over_b": rows["a_grm_vllm_abstain"]["judgments_per_s"] / b,
        "block_size": block,
    }
    if "a_grm_vllm_text_forcing" in rows:
        summary["a_text_forcing_over_b"] = rows["a_grm_vllm_text_forcing"]["judgments_per_s"] / b
    if "c_transformers_loop" in rows:
        summary["a_over_c"] = a / rows["c_transformers_loop"]["judgments_per_s"]
    print("summary", json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "args": vars(args),
                    "machine": platform.platform(),
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "load_average": list(os.getloadavg()),
                    "rows": rows,
                    "summary": summary,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
