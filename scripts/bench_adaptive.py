"""Benchmark adaptive k against fixed k: accuracy and chains, in one run.

For each judge (the embedded base model; a trained judge when its directory exists) and each
request set (JudgeBench rows read from ../shared/data, and held-out two-digit addition pairs
from grm.training.tasks), it runs:

1. fixed k = max_k in one batched pass; fixed k = 1, 4, 8 are read from the same chains by
   taking the first k in their position-balanced plan order (no extra engine calls);
2. ``k="auto"`` (the Beta rule, max_k) as a real wave-by-wave run, with vLLM's prefix-cache
   accounting per wave (prompt tokens served from the cache);
3. every registered stopping rule replayed on the fixed-k chains (the same waves, cut where
   the rule would have stopped), to compare rules without more engine calls.

Accuracy uses RewardBench's rule: 1 for the right winner, 0.5 for a tie, 0 otherwise.

    .venv/bin/python scripts/bench_adaptive.py --judgebench 16 --arith 32 --max-tokens 96

Writes a JSON report and an accuracy-versus-chains PNG (paths below), and prints a Markdown
table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grm import JudgeConfig, JudgeRequest, RewardModel
from grm.adaptive import replay_prefix
from grm.aggregation import majority_vote
from grm.eval_metrics import rb_score
from grm.judge import plan_orders
from grm.stopping import stopping_rule_names
from grm.types import Chain, Result

ROOT = Path(__file__).resolve().parents[1]
JUDGEBENCH = ROOT.parent / "shared" / "data" / "judgebench-gpt4o.jsonl"
TRAINED = [ROOT / "runs" / "judge-grpo", ROOT / "runs" / "judge-sft"]


def judgebench(n: int) -> list[tuple[JudgeRequest, int]]:
    rows = [json.loads(line) for line in JUDGEBENCH.open()][:n]
    return [
        (
            JudgeRequest(r["question"], (r["response_A"], r["response_B"])),
            0 if r["label"] == "A>B" else 1,
        )
        for r in rows
    ]


def arithmetic(n: int) -> list[tuple[JudgeRequest, int]]:
    from grm.training.tasks import TaskConfig, make_tasks

    return [
        (JudgeRequest(r["prompt"], tuple(r["responses"])), int(r["preferred"]))
        for r in make_tasks(TaskConfig(), "eval", n)
    ]


def plan_ordered(result: Result, index: int, cfg: JudgeConfig) -> list[Chain]:
    """A fixed-k result's chains in the order ``plan_orders`` assigned them."""
    pools: dict[tuple[int, ...], list[Chain]] = {}
    for c in result.chains:
        pools.setdefault(c.order, []).append(c)
    plan = plan_orders("pairwise", 2, 0, len(result.chains), (cfg.seed, index), cfg)
    return [pools[o].pop(0) for o in plan]


def replay(chains: list[Chain], rule: str, cfg: JudgeConfig) -> list[Chain]:
    """The prefix of ``chains`` adaptive k would have sampled under ``rule``."""
    m = replay_prefix(
        [c.judgment for c in chains], 2, rule, cfg.wave_size, cfg.confidence, cfg.max_k
    )
    return chains[:m]


def cache_stats(rm: RewardModel) -> dict[str, float]:
    stats = getattr(rm.engine, "stats", None)
    return dict(stats()) if callable(stats) else {}


def run_set(
    rm: RewardModel, items: list[tuple[JudgeRequest, int]], args: argparse.Namespace
) -> dict[str, Any]:
    reqs = [r for r, _ in items]
    labels = [y for _, y in items]
    cfg = rm.config.with_(k=args.max_k, max_k=args.max_k)
    out: dict[str, Any] = {"n": len(items), "fixed": {}, "replayed": {}}

    # k="auto" first: its first wave is a cold prefill, so later waves show the cache.
    before = cache_stats(rm)
    t0 = time.perf_counter()
    auto = rm.compare_batch(reqs, k="auto", max_k=args.max_k, confidence=args.confidence)
    seconds = time.perf_counter() - t0
    after = cache_stats(rm)
    acc = [rb_score(r.winner, y) for r, y in zip(auto, labels, strict=True)]
    stopped: dict[str, int] = {}
    for r in auto:
        stopped[str(r.stopped_by)] = stopped.get(str(r.stopped_by), 0) + 1
    out["auto"] = {
        "accuracy": sum(acc) / len(acc),
        "chains": sum(r.k_used for r in auto),
        "k_saved": sum(r.k_saved for r in auto),
        "seconds": seconds,
        "stopped_by": stopped,
        "k_used": [r.k_used for r in auto],
    }
    if before and after:
        sent = after["prompt_tokens"] - before["prompt_tokens"]
        hit = after["cached_prompt_tokens"] - before["cached_prompt_tokens"]
        out["auto"]["prompt_tokens"] = sent
        out["auto"]["cached_prompt_tokens"] = hit
        out["auto"]["prefix_hit_rate"] = hit / sent if sent else 0.0
    t0 = time.perf_counter()
    fixed = rm.compare_batch(reqs, k=args.max_k)
    out["fixed_seconds"] = time.perf_counter() - t0
    ordered = [plan_ordered(r, i, cfg) for i, r in enumerate(fixed)]
    for k in [k for k in (1, 2, 4, 8, 16, 32) if k <= args.max_k]:
        acc = [
            rb_score(majority_vote([c.judgment for c in ch[:k]], 2).winner, y)
            for ch, y in zip(ordered, labels, strict=True)
        ]
        out["fixed"][k] = {"accuracy": sum(acc) / len(acc), "chains": k * len(items)}
    for rule in stopping_rule_names():
        cut = [replay(ch, rule, cfg) for ch in ordered]
        acc = [
            rb_score(majority_vote([c.judgment for c in ch], 2).winner, y)
            for ch, y in zip(cut, labels, strict=True)
        ]
        out["replayed"][rule] = {
            "accuracy": sum(acc) / len(acc),
            "chains": sum(len(c) for c in cut),
        }

    out["first_slot_rate"] = _mean([r.first_slot_rate for r in fixed])
    out["forced_rate"] = sum(r.forced for r in fixed) / (args.max_k * len(items))
    return out


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def wave_cache_probe(rm: RewardModel, items: list[tuple[JudgeRequest, int]]) -> dict[str, Any]:
    """Prompt tokens and cache hits of each wave of a k='auto' run that never stops early."""
    from grm.driver import sample_chains
    from grm.judge import prepare

    cfg = rm.config.with_(k="auto", stopping="fixed", max_k=12, max_tokens=8)
    preps = [prepare(rm.engine, rm.template, r, i, cfg) for i, (r, _) in enumerate(items)]
    waves = []
    for wave in range(3):
        before = cache_stats(rm)
        orders = [plan_orders("pairwise", 2, 4 * wave, 4, (cfg.seed, p.index), cfg) for p in preps]
        sample_chains(rm.engine, rm.template, preps, orders, cfg, wave=wave)
        after = cache_stats(rm)
        if not before:
            return {}
        sent = after["prompt_tokens"] - before["prompt_tokens"]
        hit = after["cached_prompt_tokens"] - before["cached_prompt_tokens"]
        waves.append({"wave": wave, "prompt_tokens": sent, "cached": hit, "hit_rate": hit / sent})
    return {"requests": len(preps), "waves": waves}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = sorted({s for j in report["judges"].values() for s in j["sets"]})
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4.2), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        for ji, (judge, jr) in enumerate(report["judges"].items()):
            s = jr["sets"].get(name)
            if s is None:
                continue
            n = s["n"]
            ks = sorted(s["fixed"], key=int)
            color = f"C{ji}"
            ax.plot(
                [s["fixed"][k]["chains"] / n for k in ks],
                [100 * s["fixed"][k]["accuracy"] for k in ks],
                "o-",
                color=color,
                label=f"{judge}: fixed k",
            )
            for k in ks:
                ax.annotate(
                    f"k={k}",
                    (s["fixed"][k]["chains"] / n, 100 * s["fixed"][k]["accuracy"]),
                    fontsize=7,
                    xytext=(3, -9),
                    textcoords="offset points",
                )
            ax.plot(
                s["auto"]["chains"] / n,
                100 * s["auto"]["accuracy"],
                "*",
                ms=14,
                color=color,
                label=f"{judge}: k=auto (beta, run)",
            )
            for mi, (rule, r) in enumerate(sorted(s["replayed"].items())):
                if rule == "fixed":
                    continue
                ax.plot(
                    r["chains"] / n,
                    100 * r["accuracy"],
                    "xv^sd"[mi % 5],
                    color=color,
                    alpha=0.6,
                    label=f"{judge}: {rule} (replayed)",
                )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("chains per request (mean)")
        ax.set_ylabel("accuracy, ties 0.5 (%)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6, loc="best")
    fig.suptitle("Adaptive k vs fixed k (max_k=16, confidence 0.95)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def table(report: dict[str, Any]) -> str:
    lines = [
        "| judge | set | n | rule | accuracy | chains / request | share of k=16 chains |",
        "|---|---|---|---|---|---|---|",
    ]
    for judge, jr in report["judges"].items():
        for name, s in jr["sets"].items():
            n = s["n"]
            full = s["fixed"][max(s["fixed"], key=int)]["chains"]
            rows = [
                (f"fixed k={k}", v) for k, v in sorted(s["fixed"].items(), key=lambda x: int(x[0]))
            ]
            rows.append(("auto, beta (run)", s["auto"]))
            rows += [
                (f"{r} (replayed)", v) for r, v in sorted(s["replayed"].items()) if r != "fixed"
            ]
            for label, v in rows:
                lines.append(
                    f"| {judge} | {name} | {n} | {label} | {100 * v['accuracy']:.1f} | "
                    f"{v['chains'] / n:.2f} | {100 * v['chains'] / full:.0f}% |"
                )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--engine", default="vllm")
    p.add_argument("--judgebench", type=int, default=16, help="JudgeBench rows (from the top)")
    p.add_argument("--arith", type=int, default=32, help="held-out addition pairs")
    p.add_argument("--max-k", type=int, default=16)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--max-tokens", type=int, default=96)
    p.add_argument(
        "--models",
        nargs="*",
        default=None,
        help="judge dirs (default: embedded model, then any trained judge found)",
    )
    p.add_argument("--json", default=str(ROOT / "docs" / "bench_adaptive.json"))
    p.add_argument("--plot", default=str(ROOT / "docs" / "adaptive_accuracy_vs_chains.png"))
    p.add_argument("--no-probe", action="store_true", help="skip the per-wave cache probe")
    p.add_argument(
        "--append",
        action="store_true",
        help="keep the judges already in --json (add a trained judge later)",
    )
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    models: list[tuple[str, str | None]] = [("base", None)]
    if args.models is not None:
        models = [(Path(m).name, m) for m in args.models]
    else:
        models += [(d.name, str(d)) for d in TRAINED if (d / "config.json").is_file()][:1]
    sets = {}
    if args.judgebench:
        sets["judgebench"] = judgebench(args.judgebench)
    if args.arith:
        sets["addition (held-out)"] = arithmetic(args.arith)
    # Rows no other run has sent, so the probe's first wave starts with a cold cache.
    fresh = judgebench(args.judgebench + 8)[-8:]
    report: dict[str, Any] = {
        "command": "scripts/bench_adaptive.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if k in ("engine", "judgebench", "arith", "max_k", "confidence", "max_tokens")
        ),
        "machine": f"2-core CPU, 24 GiB, no GPU ({platform.machine()})",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "judges": {},
    }
    if args.append and Path(args.json).is_file():
        report["judges"] = json.loads(Path(args.json).read_text())["judges"]
    for name, model in models:
        t0 = time.perf_counter()
        rm = RewardModel.load(
            model,
            engine=args.engine,
            max_tokens=args.max_tokens,
            engine_options={"max_model_len": 4096} if args.engine == "vllm" else None,
        )
        jr: dict[str, Any] = {
            "model": model or "embedded default",
            "command": report["command"],
            "date": report["date"],
            "load_seconds": time.perf_counter() - t0,
            "sets": {},
        }
        for set_name, items in sets.items():
            print(f"[{name}] {set_name}: {len(items)} requests", flush=True)
            jr["sets"][set_name] = run_set(rm, items, args)
        jr["wave_cache"] = {} if args.no_probe else wave_cache_probe(rm, fresh)
        report["judges"][name] = jr
        rm.close()
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    plot(report, Path(args.plot))
    print(table(report))
    print(json.dumps({j: jr["wave_cache"] for j, jr in report["judges"].items()}, indent=2))


if __name__ == "__main__":
    main()
