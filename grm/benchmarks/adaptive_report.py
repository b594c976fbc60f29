"""Adaptive k against fixed k in one run (``scripts/bench_adaptive.py``): measure, tabulate,
plot.

For each request set it runs ``k="auto"`` (the Beta rule, max_k) wave by wave, with vLLM's
prefix-cache accounting; fixed ``k = max_k`` in one batched pass, fixed k = 1, 2, 4, 8 read
from the same chains in plan order; and every registered stopping rule replayed on those
chains. Accuracy uses RewardBench's rule: 1 for the right winner, 0.5 for a tie, 0 otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grm.aggregation import majority_vote
from grm.benchmarks.replay import plan_ordered, replay
from grm.eval_metrics import rb_score
from grm.stopping import stopping_rule_names

logger = logging.getLogger(__name__)


def cache_stats(rm: Any) -> dict[str, float]:
    """The engine's prompt/cached-token counters (vLLM), or {} for an engine without them."""
    stats = getattr(rm.engine, "stats", None)
    return dict(stats()) if callable(stats) else {}


def _accuracy(chains: Sequence[Sequence[Any]], labels: Sequence[int]) -> float:
    acc = [
        rb_score(majority_vote([c.judgment for c in ch], 2).winner, y)
        for ch, y in zip(chains, labels, strict=True)
    ]
    return sum(acc) / len(acc)


def run_set(
    rm: Any, items: Sequence[tuple[Any, int]], max_k: int, confidence: float
) -> dict[str, Any]:
    """k="auto" first (its first wave is a cold prefill, so later waves show the cache), then
    fixed k=max_k, fixed k < max_k and every rule replayed on the fixed chains."""
    reqs = [r for r, _ in items]
    labels = [y for _, y in items]
    cfg = rm.config.with_(k=max_k, max_k=max_k)
    out: dict[str, Any] = {"n": len(items), "fixed": {}, "replayed": {}}
    before = cache_stats(rm)
    t0 = time.perf_counter()
    auto = rm.compare_batch(reqs, k="auto", max_k=max_k, confidence=confidence)
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
    fixed = rm.compare_batch(reqs, k=max_k)
    out["fixed_seconds"] = time.perf_counter() - t0
    ordered = [plan_ordered(r, i, cfg) for i, r in enumerate(fixed)]
    for k in [k for k in (1, 2, 4, 8, 16, 32) if k <= max_k]:
        out["fixed"][k] = {
            "accuracy": _accuracy([ch[:k] for ch in ordered], labels),
            "chains": k * len(items),
        }
    for rule in stopping_rule_names():
        cut = [replay(ch, rule, cfg) for ch in ordered]
        out["replayed"][rule] = {
            "accuracy": _accuracy(cut, labels),
            "chains": sum(len(c) for c in cut),
        }
    rates = [r.first_slot_rate for r in fixed if r.first_slot_rate is not None]
    out["first_slot_rate"] = sum(rates) / len(rates) if rates else None
    out["forced_rate"] = sum(r.forced for r in fixed) / (max_k * len(items))
    return out


def run_judge(
    model: str | None,
    sets: dict[str, Sequence[tuple[Any, int]]],
    engine: str,
    max_tokens: int,
    max_k: int,
    confidence: float,
) -> dict[str, Any]:
    """One judge on every set (:func:`run_set`); the loaded model stays open under ``rm``
    for the cache probe, which closes it."""
    from grm import RewardModel

    t0 = time.perf_counter()
    rm = RewardModel.load(
        model,
        engine=engine,
        max_tokens=max_tokens,
        engine_options={"max_model_len": 4096} if engine == "vllm" else None,
    )
    out: dict[str, Any] = {
        "model": model or "embedded default",
        "load_seconds": time.perf_counter() - t0,
        "sets": {},
    }
    for name, items in sets.items():
        logger.info("[%s] %s: %d requests", model or "base", name, len(items))
        out["sets"][name] = run_set(rm, items, max_k, confidence)
    out["rm"] = rm
    return out


def wave_cache_probe(rm: Any, items: Sequence[tuple[Any, int]] | None) -> dict[str, Any]:
    """Prompt tokens and cache hits of each wave of a k='auto' run that never stops early
    (nothing with ``items`` None); closes ``rm``."""
    try:
        return _probe(rm, items) if items is not None else {}
    finally:
        rm.close()


def _probe(rm: Any, items: Sequence[tuple[Any, int]]) -> dict[str, Any]:
    from grm.driver import sample_chains
    from grm.judge import plan_orders, prepare

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


def table(report: dict[str, Any]) -> str:
    """Every judge and set: fixed k, the run, the replayed rules (docs/benchmarks.md)."""
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


def plot(report: dict[str, Any], path: Path) -> None:
    """Accuracy against chains per request, one panel per request set."""
    from grm.benchmarks.scaling_report import _pyplot

    plt = _pyplot()
    sets = sorted({s for j in report["judges"].values() for s in j["sets"]})
    fig, axes = plt.subplots(1, len(sets), figsize=(5.5 * len(sets), 4.2), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        for ji, (judge, jr) in enumerate(report["judges"].items()):
            s = jr["sets"].get(name)
            if s is None:
                continue
            n, color = s["n"], f"C{ji}"
            ks = sorted(s["fixed"], key=int)
            xs = [s["fixed"][k]["chains"] / n for k in ks]
            ys = [100 * s["fixed"][k]["accuracy"] for k in ks]
            ax.plot(xs, ys, "o-", color=color, label=f"{judge}: fixed k")
            for k, x, y in zip(ks, xs, ys, strict=True):
                ax.annotate(
                    f"k={k}", (x, y), fontsize=7, xytext=(3, -9), textcoords="offset points"
                )
            a = s["auto"]
            ax.plot(
                a["chains"] / n,
                100 * a["accuracy"],
                "*",
                ms=14,
                color=color,
                label=f"{judge}: k=auto (beta, run)",
            )
            for mi, (rule, r) in enumerate(sorted(s["replayed"].items())):
                if rule != "fixed":
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
