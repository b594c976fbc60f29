"""Accuracy versus k on the held-out verifiable suite, with 95% bootstrap intervals, and adaptive k.

For each judge (``base`` is the embedded default model; a checkpoint directory or a bundled
judge name otherwise) it samples ``max_k`` position-balanced chains per pair in batched
passes, then reads from those chains:

- accuracy at k = 1, 2, 4, ..., max_k, overall and per task kind: the mean over pairs of each
  pair's expected k-chain majority score (ties 0.5), with a percentile-bootstrap interval over
  pairs, and the gain accuracy(max_k) - accuracy(1) with a paired bootstrap interval;
- the per-chain accuracy and the intra-class correlation of chain correctness within a pair
  (near 0: chains err independently and voting helps; near 1: they share their mistakes);
- every stopping rule replayed on the same chains in their plan order, for each wave size
  (the waves adaptive k would have drawn, cut where the rule stops), with chains used;
- optionally (``--auto-rule``) one real ``k="auto"`` run with that rule, as a check of the replay.

The suite is ``grm.training.tasks`` (six kinds, one tier, held-out split of seed 0: the items the
training configs never see). JudgeBench rows (read from ../shared/data) can be added.

    .venv/bin/python scripts/bench_scaling.py --model base --model runs/judge-suite-sft \
        --per-kind 60 --max-k 16 --json docs/bench_scaling.json --plot docs/scaling_curve.png

Prints Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
JUDGEBENCH = ROOT.parent / "shared" / "data" / "judgebench-gpt4o.jsonl"
KINDS = ("arithmetic", "counting", "ordering", "units", "dates", "code")


def suite(
    kinds: list[str], per_kind: int, tier: str, offset: int = 0
) -> list[tuple[Any, int, str]]:
    from grm.training.tasks import TaskConfig, make_tasks

    from grm import JudgeRequest

    items = []
    for kind in kinds:
        # One seeded stream per kind: the first ``offset`` pairs are those of a smaller run.
        cfg = TaskConfig(tasks=(kind,), tier=tier, seed=0)
        rows = make_tasks(cfg, "eval", offset + per_kind)[offset:]
        items += [
            (JudgeRequest(r["prompt"], tuple(r["responses"])), r["preferred"], kind) for r in rows
        ]
    return items


def judgebench(n: int) -> list[tuple[Any, int, str]]:
    from grm import JudgeRequest

    rows = [json.loads(line) for line in JUDGEBENCH.open()][:n]
    return [
        (
            JudgeRequest(r["question"], (r["response_A"], r["response_B"])),
            0 if r["label"] == "A>B" else 1,
            "judgebench",
        )
        for r in rows
    ]


def curve(chains: list, labels: list[int], ks: list[int], seed: int) -> dict[str, Any]:
    from grm.scaling_metrics import bootstrap_interval, pair_scores_at_k, paired_difference_interval

    per_k = {k: pair_scores_at_k(chains, labels, k, resamples=50, seed=seed) for k in ks}
    out: dict[str, Any] = {"n": len(labels), "points": []}
    for k in ks:
        lo, hi = bootstrap_interval(per_k[k], seed=seed)
        out["points"].append(
            {"k": k, "accuracy": sum(per_k[k]) / len(per_k[k]), "low": lo, "high": hi}
        )
    d, lo, hi = paired_difference_interval(per_k[ks[-1]], per_k[ks[0]], seed=seed)
    out["gain"] = {"from": ks[0], "to": ks[-1], "diff": d, "low": lo, "high": hi}
    return out


def chain_stats(chains: list, labels: list[int]) -> dict[str, float]:
    from grm.scaling_metrics import chain_error_correlation

    correct = [
        [1.0 if c.winner == y else 0.0 for c in cs if isinstance(c.winner, int)]
        for cs, y in zip(chains, labels, strict=True)
    ]
    flat = [x for cs in correct for x in cs]
    total = sum(len(cs) for cs in chains)
    return {
        "chain_accuracy": sum(flat) / len(flat) if flat else float("nan"),
        "abstain_or_tie_rate": 1 - len(flat) / total if total else float("nan"),
        "error_correlation": chain_error_correlation(correct),
    }


def judge_set(rm: Any, items: list, args: argparse.Namespace) -> dict[str, Any]:
    from bench_adaptive import plan_ordered
    from replay_adaptive import cheapest_within, replay_rules

    from grm.aggregation import majority_vote
    from grm.eval_metrics import ChainRecord, ks_up_to, rb_score
    from grm.evaluation import record_winner
    from grm.scaling_metrics import bootstrap_interval, paired_difference_interval

    reqs = [r for r, _, _ in items]
    labels = [y for _, y, _ in items]
    kinds = [g for _, _, g in items]
    cfg = rm.config.with_(k=args.max_k, max_k=args.max_k)
    records, ordered = [], []
    chains_done, forced, tokens = 0, 0, 0
    t0 = time.perf_counter()
    for lo in range(0, len(reqs), args.batch_size):
        batch = reqs[lo : lo + args.batch_size]
        results = rm.compare_batch(batch, k=args.max_k)
        for i, r in enumerate(results):
            records.append(
                [ChainRecord(c.order[0], record_winner(c.judgment), c.forced) for c in r.chains]
            )
            ordered.append(plan_ordered(r, i, cfg))
            forced += r.forced
            tokens += r.completion_tokens
        chains_done += args.max_k * len(batch)
        rate = chains_done / (time.perf_counter() - t0)
        print(f"  {lo + len(batch)}/{len(reqs)} pairs, {rate:.1f} chains/s", flush=True)
    seconds = time.perf_counter() - t0
    ks = ks_up_to(args.max_k)
    out: dict[str, Any] = {
        "n": len(items),
        "seconds": seconds,
        "chains_per_second": chains_done / seconds,
        "completion_tokens": tokens,
        "forced_rate": forced / chains_done,
        "overall": curve(records, labels, ks, args.seed),
        "chains": chain_stats(records, labels),
        "by_kind": {},
        "pairs": [
            {"kind": g, "label": y, "chains": [[c.first, c.winner, c.forced] for c in cs]}
            for cs, y, g in zip(records, labels, kinds, strict=True)
        ],
    }
    for kind in sorted(set(kinds)):
        idx = [i for i, g in enumerate(kinds) if g == kind]
        sub_c, sub_y = [records[i] for i in idx], [labels[i] for i in idx]
        out["by_kind"][kind] = {**curve(sub_c, sub_y, ks, args.seed), **chain_stats(sub_c, sub_y)}

    # Stopping rules replayed on the same chains, wave by wave in plan order.
    out["replayed"] = replay_rules(
        [[c.judgment for c in ch] for ch in ordered],
        labels,
        args.waves,
        args.confidences,
        args.max_k,
        args.seed,
    )
    auto_rule = args.auto_rule
    if auto_rule == "best" and out["replayed"]:
        # The cheapest replayed rule within 0.5 points of fixed max_k, else the most accurate.
        top = out["overall"]["points"][-1]["accuracy"]
        pick = cheapest_within(out["replayed"], top) or max(
            out["replayed"], key=lambda r: r["accuracy"]
        )
        auto_rule = f"{pick['rule']}:{pick['wave_size']}:{pick['confidence']}"
    if auto_rule and auto_rule != "best":
        rule, wave, conf = auto_rule.split(":")
        t0 = time.perf_counter()
        auto = rm.compare_batch(
            reqs,
            k="auto",
            max_k=args.max_k,
            stopping=rule,
            wave_size=int(wave),
            confidence=float(conf),
        )
        acc = [rb_score(r.winner, y) for r, y in zip(auto, labels, strict=True)]
        lo_, hi_ = bootstrap_interval(acc, seed=args.seed)
        # Against the fixed run's k=max_k votes on the same pairs (two independent samples).
        fixed = [
            rb_score(majority_vote([c.judgment for c in ch], 2).winner, y)
            for ch, y in zip(ordered, labels, strict=True)
        ]
        d, dlo, dhi = paired_difference_interval(acc, fixed, seed=args.seed)
        used = sum(r.k_used for r in auto)
        out["auto_run"] = {
            "rule": rule,
            "wave_size": int(wave),
            "confidence": float(conf),
            "accuracy": sum(acc) / len(acc),
            "low": lo_,
            "high": hi_,
            "minus_max_k": {"diff": d, "low": dlo, "high": dhi},
            "chains": used,
            "share": used / (args.max_k * len(items)),
            "seconds": time.perf_counter() - t0,
        }
    return out


def tables(report: dict[str, Any]) -> str:
    lines = ["| judge | set | n | " + " | ".join(f"k={p['k']}" for p in _first_points(report))]
    lines[0] += " | gain (95% CI) | chain acc. | error corr. |"
    lines.append("|---" * (len(_first_points(report)) + 6) + "|")
    for judge, jr in report["judges"].items():
        for name, s in jr.items():
            rows = [("all", s["overall"], s["chains"])]
            rows += [(k, v, v) for k, v in s.get("by_kind", {}).items()]
            for label, c, st in rows:
                pts = " | ".join(
                    f"{100 * p['accuracy']:.1f} [{100 * p['low']:.1f}, {100 * p['high']:.1f}]"
                    for p in c["points"]
                )
                g = c["gain"]
                lines.append(
                    f"| {judge} | {name}: {label} | {c['n']} | {pts} | "
                    f"{100 * g['diff']:+.1f} [{100 * g['low']:+.1f}, {100 * g['high']:+.1f}] | "
                    f"{100 * st['chain_accuracy']:.1f} | {st['error_correlation']:.2f} |"
                )
    lines += [
        "",
        "| judge | set | rule | wave | confidence | accuracy (95% CI) | share of k=max chains |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for judge, jr in report["judges"].items():
        for name, s in jr.items():
            for r in s.get("replayed", []) + (
                [s["auto_run"] | {"rule": s["auto_run"]["rule"] + " (run)"}]
                if "auto_run" in s
                else []
            ):
                lines.append(
                    f"| {judge} | {name} | {r['rule']} | {r['wave_size']} | {r['confidence']} | "
                    f"{100 * r['accuracy']:.1f} [{100 * r['low']:.1f}, {100 * r['high']:.1f}] | "
                    f"{100 * r['share']:.0f}% |"
                )
    return "\n".join(lines)


def _first_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    for jr in report["judges"].values():
        for s in jr.values():
            return s["overall"]["points"]
    return []


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 4.6))
    for ji, (judge, jr) in enumerate(report["judges"].items()):
        s = jr.get("suite")
        if s is None:
            continue
        pts = s["overall"]["points"]
        ks = [p["k"] for p in pts]
        acc = [100 * p["accuracy"] for p in pts]
        err = [
            [100 * (p["accuracy"] - p["low"]) for p in pts],
            [100 * (p["high"] - p["accuracy"]) for p in pts],
        ]
        ax1.errorbar(ks, acc, yerr=err, fmt="o-", capsize=3, color=f"C{ji}", label=judge)
        ax2.plot(ks, acc, "o-", color=f"C{ji}", label=f"{judge}: fixed k")
        front = pareto_front(s.get("replayed", []))
        if front:
            ax2.plot(
                [r["share"] * ks[-1] for r in front],
                [100 * r["accuracy"] for r in front],
                "x--",
                color=f"C{ji}",
                alpha=0.6,
                label=f"{judge}: k=auto, best replayed rules",
            )
        if "auto_run" in s:
            r = s["auto_run"]
            ax2.plot(
                r["share"] * ks[-1],
                100 * r["accuracy"],
                "*",
                ms=14,
                color=f"C{ji}",
                label=f"{judge}: k=auto {r['rule']} (run)",
            )
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.grid(alpha=0.3)
        ax.set_ylabel("accuracy, ties 0.5 (%)")
    ax1.set_xlabel("k (chains per pair)")
    ax1.set_title(f"Held-out suite, n={_first_set_n(report)}: 95% bootstrap intervals")
    ax2.set_xlabel("chains per pair (mean)")
    ax2.set_title("Adaptive k (replayed rules' Pareto front) vs fixed k")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The replayed settings no other setting beats on both chains and accuracy, by share."""
    front: list[dict[str, Any]] = []
    for r in sorted(rows, key=lambda r: (r["share"], -r["accuracy"])):
        if not front or r["accuracy"] > front[-1]["accuracy"]:
            front.append(r)
    return front


def _first_set_n(report: dict[str, Any]) -> int:
    for jr in report["judges"].values():
        if "suite" in jr:
            return int(jr["suite"]["n"])
    return 0


def main() -> None:
    from grm import RewardModel

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", action="append", required=True, help="'base', a dir or a name")
    p.add_argument("--per-kind", type=int, default=60, help="held-out pairs per task kind")
    p.add_argument("--kinds", nargs="+", default=list(KINDS))
    p.add_argument("--tier", default="medium")
    p.add_argument("--judgebench", type=int, default=0, help="JudgeBench rows (0 skips)")
    p.add_argument("--max-k", type=int, default=16)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--engine", default="vllm")
    p.add_argument("--batch-size", type=int, default=60, help="pairs per engine call")
    p.add_argument("--offset", type=int, default=0, help="skip this many pairs per kind")
    p.add_argument("--waves", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--confidences", type=float, nargs="+", default=[0.8, 0.9, 0.95])
    p.add_argument(
        "--auto-rule",
        default=None,
        help="RULE:WAVE:CONFIDENCE for a real k=auto run, or best: the cheapest "
        "replayed rule within 0.5 points of fixed max_k (picked on these pairs, so check "
        "it on others: --offset)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--forcing",
        choices=["inline", "pass"],
        default="pass",
        help="how cut chains are forced (JudgeConfig.forcing)",
    )
    p.add_argument(
        "--engine-option", action="append", default=[], help="KEY=JSON, passed to the engine"
    )
    p.add_argument("--json", default=None)
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    sets = {}
    if args.per_kind:
        sets["suite"] = suite(args.kinds, args.per_kind, args.tier, args.offset)
    if args.judgebench:
        sets["judgebench"] = judgebench(args.judgebench)
    report: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "machine": f"{platform.node()} ({platform.machine()}), python {platform.python_version()}",
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "args": vars(args),
        "judges": {},
    }
    for model in args.model:
        path = None if model == "base" else model
        with RewardModel.load(
            path,
            engine=args.engine,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            seed=args.seed,
            forcing=args.forcing,
            engine_options={
                k: json.loads(v) for k, v in (o.split("=", 1) for o in args.engine_option)
            },
        ) as rm:
            report["judges"][model] = {}
            for name, items in sets.items():
                print(f"# {model} on {name} ({len(items)} pairs, k={args.max_k})", flush=True)
                if name == "judgebench":
                    args_jb = argparse.Namespace(**{**vars(args), "auto_rule": None, "waves": []})
                    res = judge_set(rm, items, args_jb)
                else:
                    res = judge_set(rm, items, args)
                report["judges"][model][name] = res
                if args.json:
                    Path(args.json).write_text(json.dumps(report, indent=1))
    print(tables(report))
    if args.plot:
        plot(report, Path(args.plot))


if __name__ == "__main__":
    main()
