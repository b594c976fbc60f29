"""verl's reward-loop path against ``grm serve``: the same judge, rollouts and settings.

    .venv/bin/python -m grm.benchmarks.verl_loop --model grm-judge-135m --rollouts 32 --k 4 \\
        --max-tokens 64 --record verl-loop-vs-serve

Path ``verl_loop``: ``vllm serve`` of the judge behind verl's own router
(``verl.experimental.reward_loop.router.naive_router``), scored by
:func:`grm.adapters.verl_loop.compute_score` per rollout, all rollouts awaited at once as
verl's reward-loop worker does. Path ``grm_serve``: ``grm serve`` of the same judge, scored
by :func:`grm.adapters.verl.compute_score_async` per rollout, also all at once. Both on the
vLLM engine in float32 (vLLM-CPU's bf16 is emulated on CPUs without bf16 kernels), k chains
per rollout, the same token budget and temperature; the engines' start-up is timed apart
from the scoring.

>>> rows = rollouts(4)
>>> [r["right"] for r in rows], all(r["ground_truth"] in r["solution_str"] for r in rows[1::2])
([False, True, False, True], True)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from grm.benchmarks.serving import free_port, start_server


def rollouts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Arithmetic rollouts, half right and half off by one or two, as verl hands them."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x, y = rng.randint(10, 99), rng.randint(10, 99)
        truth = x + y
        answer = truth if i % 2 else truth + rng.choice([-2, -1, 1, 2])
        out.append(
            {
                "data_source": "arithmetic",
                "solution_str": f"{x} + {y} = {answer}. The answer is {answer}.",
                "ground_truth": str(truth),
                "extra_info": {"question": f"What is {x} + {y}?"},
                "right": bool(i % 2),
            }
        )
    return out


def _wait_http(url: str, proc: subprocess.Popen[Any], wait_s: float) -> None:
    import httpx

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args!r} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(1)
    proc.kill()
    raise SystemExit(f"{url} did not answer within {wait_s:.0f} s")


@contextmanager
def verl_router(model: str, max_model_len: int = 2048) -> Iterator[str]:
    """``vllm serve MODEL`` (float32) behind verl's router; yields the router's
    ``host:port`` as verl passes it."""
    vport, rport = free_port(), free_port()
    vllm = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
         "--host", "127.0.0.1", "--port", str(vport), "--dtype", "float32", "--enforce-eager",
         "--gpu-memory-utilization", "0.15", "--max-model-len", str(max_model_len)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    code = (
        "import sys; from verl.experimental.reward_loop.router.naive_router import run_router; "
        "run_router('127.0.0.1', int(sys.argv[1]), [sys.argv[2]])"
    )
    router = subprocess.Popen(
        [sys.executable, "-c", code, str(rport), f"http://127.0.0.1:{vport}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{vport}/health", vllm, 600)
        _wait_http(f"http://127.0.0.1:{rport}/health", router, 60)
        yield f"127.0.0.1:{rport}"
    finally:
        for proc in (router, vllm):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _gather(calls: list[Any]) -> tuple[list[Any], float]:
    start = time.perf_counter()
    out = await asyncio.gather(*calls, return_exceptions=True)
    return list(out), time.perf_counter() - start


def through_verl_loop(
    model: str, rows: list[dict[str, Any]], k: int, options: dict[str, Any]
) -> dict[str, Any]:
    """Start-up and scoring seconds of the reward-loop path, and its rewards."""
    from transformers import AutoTokenizer

    from grm.adapters.verl_loop import compute_score

    start = time.perf_counter()
    with verl_router(model) as address:
        ready = time.perf_counter() - start
        tok = AutoTokenizer.from_pretrained(model)

        async def go() -> tuple[list[Any], float]:
            # A first call loads the judge (tokenizer, served model name), as verl's first
            # step does; it is timed with the start-up.
            await compute_score(**_args(rows[0]), reward_router_address=address,
                                reward_model_tokenizer=tok, model=model, k=1, template="default",
                                judge_options={**options, "max_tokens": 1})  # fmt: skip
            return await _gather(
                [
                    compute_score(
                        **_args(r),
                        reward_router_address=address,
                        reward_model_tokenizer=tok,
                        model=model,
                        k=k,
                        judge_options=options,
                    )
                    for r in rows
                ]  # fmt: skip
            )

        out, seconds = asyncio.run(go())
    return _summary(out, rows, ready, seconds, lambda o: o["score"])


def through_grm_serve(
    model: str, rows: list[dict[str, Any]], k: int, options: dict[str, Any]
) -> dict[str, Any]:
    """Start-up and scoring seconds of ``grm serve`` with verl's async scorer."""
    from grm.adapters.verl import compute_score_async

    flags = ["--model", model, "--engine", "vllm", "--template", "default", "--k", str(k),
             "--max-tokens", str(options["max_tokens"]),
             "--temperature", str(options["temperature"])]  # fmt: skip
    start = time.perf_counter()
    proc, url = start_server(flags)
    try:
        ready = time.perf_counter() - start
        out, seconds = asyncio.run(
            _gather([compute_score_async(**_args(r), url=url, k=k) for r in rows])
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return _summary(out, rows, ready, seconds, lambda o: o["score"])


def _args(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("data_source", "solution_str", "ground_truth", "extra_info")}


def _summary(
    out: list[Any], rows: list[dict[str, Any]], ready: float, seconds: float, score: Any
) -> dict[str, Any]:
    failed = [o for o in out if isinstance(o, BaseException)]
    scores = [None if isinstance(o, BaseException) else float(score(o)) for o in out]
    right = [s for s, r in zip(scores, rows, strict=True) if s is not None and r["right"]]
    wrong = [s for s, r in zip(scores, rows, strict=True) if s is not None and not r["right"]]
    return {
        "startup_s": ready,
        "scoring_s": seconds,
        "rollouts_per_s": len(rows) / seconds,
        "failed": len(failed),
        "errors": sorted({f"{type(e).__name__}: {e}"[:200] for e in failed}),
        "mean_reward_right": sum(right) / len(right) if right else None,
        "mean_reward_wrong": sum(wrong) / len(wrong) if wrong else None,
        "scores": scores,
    }


def table(figures: dict[str, Any]) -> str:
    """The two paths side by side, and their ratio."""
    a, b = figures["verl_loop"], figures["grm_serve"]
    lines = [
        "| path | start-up (s) | scoring (s) | rollouts/s | failed | mean reward right / wrong |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in (("verl reward loop (vllm serve + verl router)", a), ("grm serve", b)):
        lines.append(
            f"| {name} | {m['startup_s']:.0f} | {m['scoring_s']:.1f} | {m['rollouts_per_s']:.2f} "
            f"| {m['failed']} | {m['mean_reward_right']:.2f} / {m['mean_reward_wrong']:.2f} |"
        )
    ratio = a["rollouts_per_s"] / b["rollouts_per_s"]
    lines.append(f"| ratio (verl loop / grm serve) | | | {ratio:.2f} | | |")
    return "\n".join(lines)


def main() -> None:
    from grm.benchmarks.cli import add_common
    from grm.benchmarks.record import Run
    from grm.judges import resolve_model

    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", default="grm-judge-135m", help="a checkpoint or a bundled judge")
    p.add_argument("--rollouts", type=int, default=32)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--temperature", type=float, default=1.0)
    add_common(p, "max_tokens", "seed", "record", max_tokens=64)
    args = p.parse_args()

    model = resolve_model(args.model)
    rows = rollouts(args.rollouts, args.seed)
    options = {"max_tokens": args.max_tokens, "temperature": args.temperature}
    run = Run(args.record or "verl-loop-vs-serve", "bench_verl_loop", vars(args))
    run.figures["verl_loop"] = through_verl_loop(model, rows, args.k, options)
    print("verl loop:", {k: v for k, v in run.figures["verl_loop"].items() if k != "scores"})
    run.figures["grm_serve"] = through_grm_serve(model, rows, args.k, options)
    print("grm serve:", {k: v for k, v in run.figures["grm_serve"].items() if k != "scores"})
    print(table(run.figures))
    if args.record:
        print("record:", run.save())


if __name__ == "__main__":
    main()
