"""Tables and plots of ``bench_scaling`` reports (the figures of docs/benchmarks.md).

>>> pt = {"k": 1, "accuracy": 0.5, "low": 0.4, "high": 0.6}
>>> ci(pt)
'50.0 [40.0, 60.0]'
>>> ci({"diff": 0.05, "low": -0.01, "high": 0.1}, key="diff", sign=True)
'+5.0 [-1.0, +10.0]'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grm.benchmarks.replay import pareto_front


def ci(d: dict[str, Any], key: str = "accuracy", sign: bool = False) -> str:
    """``value [low, high]`` in points (percent), one decimal."""
    f = "+.1f" if sign else ".1f"
    return f"{100 * d[key]:{f}} [{100 * d['low']:{f}}, {100 * d['high']:{f}}]"


def curve_table(s: dict[str, Any]) -> str:
    """One judge's set as the docs show it: a row for all pairs, then one per task kind."""
    pts = s["overall"]["points"]
    ks = [p["k"] for p in pts]
    lines = [
        "| set | n | "
        + " | ".join(f"k={k}" for k in ks)
        + f" | gain k={ks[-1]} - k={ks[0]} (95% CI) | chain acc. | error corr. |",
        "|---" * (len(ks) + 5) + "|",
    ]
    rows = [("**all**", s["overall"], s["chains"], True)]
    rows += [(k, v, v, False) for k, v in s.get("by_kind", {}).items()]
    for label, c, st, bold in rows:
        cells = [ci(p) for p in c["points"]]
        gain = ci(c["gain"], "diff", sign=True)
        if bold:
            last = c["points"][-1]
            cells[-1] = f"**{100 * last['accuracy']:.1f}** [{100 * last['low']:.1f}, "
            cells[-1] += f"{100 * last['high']:.1f}]"
            gain = f"**{gain}**"
        lines.append(
            f"| {label} | {c['n']} | {' | '.join(cells)} | {gain} | "
            f"{100 * st['chain_accuracy']:.1f} | {st['error_correlation']:.2f} |"
        )
    return "\n".join(lines)


def tables(report: dict[str, Any]) -> str:
    """Every judge and set of one report: the curves, then the replayed rules."""
    first = _first_points(report)
    lines = ["| judge | set | n | " + " | ".join(f"k={p['k']}" for p in first)]
    lines[0] += " | gain (95% CI) | chain acc. | error corr. |"
    lines.append("|---" * (len(first) + 6) + "|")
    for judge, jr in report["judges"].items():
        for name, s in jr.items():
            rows = [("all", s["overall"], s["chains"])]
            rows += [(k, v, v) for k, v in s.get("by_kind", {}).items()]
            for label, c, st in rows:
                pts = " | ".join(ci(p) for p in c["points"])
                lines.append(
                    f"| {judge} | {name}: {label} | {c['n']} | {pts} | "
                    f"{ci(c['gain'], 'diff', sign=True)} | "
                    f"{100 * st['chain_accuracy']:.1f} | {st['error_correlation']:.2f} |"
                )
    lines += [
        "",
        "| judge | set | rule | wave | confidence | accuracy (95% CI) | share of k=max chains |",
        "|---|---|---|---|---|---|---|",
    ]
    for judge, jr in report["judges"].items():
        for name, s in jr.items():
            runs = (
                [s["auto_run"] | {"rule": s["auto_run"]["rule"] + " (run)"}]
                if "auto_run" in s
                else []
            )
            for r in s.get("replayed", []) + runs:
                lines.append(
                    f"| {judge} | {name} | {r['rule']} | {r['wave_size']} | {r['confidence']} | "
                    f"{ci(r)} | {100 * r['share']:.0f}% |"
                )
    return "\n".join(lines)


def replay_lines(judge: str, name: str, s: dict[str, Any], max_k: int) -> list[str]:
    """The replayed rules of one set, one line each, the cheapest within 0.5 points marked."""
    from grm.benchmarks.replay import cheapest_within

    top = s["overall"]["points"][-1]["accuracy"]
    best = cheapest_within(s["replayed"], top)
    out = [f"# {judge} on {name}: k={max_k} {100 * top:.1f}"]
    for r in s["replayed"]:
        mark = "  <- cheapest within 0.5 points" if r is best else ""
        out.append(
            f"  {r['rule']:<10} wave {r['wave_size']} conf {r['confidence']:.2f}: {ci(r)}, "
            f"minus k={max_k} {ci(r['minus_max_k'], 'diff', sign=True)}, "
            f"{100 * r['share']:.0f}% of the chains{mark}"
        )
    return out


def transfer_table(first: dict[str, Any], *checks: dict[str, Any]) -> str:
    """Adaptive k chosen on one set and checked on others: the replayed settings on the
    first set's accuracy-versus-chains front (cheapest first), each with its figures on every
    set; the cheapest within 0.5 points of fixed max_k on the first set is in bold, the
    choice a user would make there (docs/benchmarks.md, "Adaptive k on the same pairs").

    >>> pt = {"k": 4, "accuracy": 0.7, "low": 0.6, "high": 0.8}
    >>> def one(acc, share):
    ...     d = {"diff": acc - 0.7, "low": acc - 0.75, "high": acc - 0.65}
    ...     return {"rule": "sprt", "wave_size": 2, "confidence": 0.9, "accuracy": acc,
    ...             "low": acc - 0.05, "high": acc + 0.05, "minus_max_k": d, "share": share}
    >>> a = {"overall": {"points": [pt]}, "replayed": [one(0.7, 0.5)]}
    >>> b = {"overall": {"points": [pt]}, "replayed": [one(0.65, 0.4)]}
    >>> transfer_table(a, b).splitlines()[-1].split(" | ")[:3], transfer_table(a, b)[-28:]
    (['| **sprt**', '**2**', '**0.9**'], '| -5.0 [-10.0, +0.0] | 40% |')
    >>> transfer_table(a, b, a).splitlines()[0].count("set: accuracy")
    3
    """
    from grm.benchmarks.replay import cheapest_within

    names = ("first", "second", "third", "fourth", "fifth")
    if not checks or len(checks) >= len(names):
        raise ValueError(f"transfer_table takes 2 to {len(names)} sets, got {1 + len(checks)}.")
    max_k = first["overall"]["points"][-1]["k"]
    best = cheapest_within(first["replayed"], first["overall"]["points"][-1]["accuracy"])
    keyed = [
        {(r["rule"], r["wave_size"], r["confidence"]): r for r in s["replayed"]} for s in checks
    ]
    head = " | ".join(
        f"{n} set: accuracy | minus k={max_k} | chains" for n in names[: 1 + len(checks)]
    )
    fixed = " | ".join(f"{ci(s['overall']['points'][-1])} | - | 100%" for s in (first, *checks))
    lines = [
        f"| rule | wave | confidence | {head} |",
        "|---|---|---|" + "---|---|---|" * (1 + len(checks)),
        f"| fixed k={max_k} | - | - | {fixed} |",
    ]

    def cells(o: dict[str, Any] | None) -> str:
        if o is None:
            return "- | - | -"
        return f"{ci(o)} | {ci(o['minus_max_k'], 'diff', sign=True)} | {100 * o['share']:.0f}%"

    for r in pareto_front(first["replayed"]):
        key = (r["rule"], r["wave_size"], r["confidence"])
        keys = [r["rule"], str(r["wave_size"]), str(r["confidence"])]
        if r is best:
            keys = [f"**{k}**" for k in keys]
        there = " | ".join(cells(k.get(key)) for k in keyed)
        lines.append(f"| {' | '.join(keys)} | {cells(r)} | {there} |")
    return "\n".join(lines)


def _first_points(report: dict[str, Any]) -> list[dict[str, Any]]:
    for jr in report["judges"].values():
        for s in jr.values():
            return list(s["overall"]["points"])
    return []


def _first_set_n(report: dict[str, Any]) -> int:
    for jr in report["judges"].values():
        if "suite" in jr:
            return int(jr["suite"]["n"])
    return 0


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(report: dict[str, Any], path: Path) -> None:
    """Accuracy versus k per judge (left), and the replayed rules' Pareto front (right)."""
    plt = _pyplot()
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


def training_table(points: Sequence[dict[str, Any]], max_k: int) -> str:
    """Held-out accuracy at k=1 and k=max_k per checkpoint, with training minutes."""
    lines = [f"| judge | training minutes | n | k=1 | k={max_k} |", "|---|---|---|---|---|"]
    for q in points:
        cells = [ci(q[f"k{k}"]) for k in (1, max_k)]
        lines.append(f"| {q['label']} | {q['minutes']:.1f} | {q['n']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def plot_training(points: Sequence[dict[str, Any]], max_k: int, path: Path) -> None:
    """Held-out accuracy at k=1 and k=max_k against training minutes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [p["minutes"] for p in points]
    for ci_, k in enumerate((1, max_k)):
        acc = [100 * p[f"k{k}"]["accuracy"] for p in points]
        err = [
            [100 * (p[f"k{k}"]["accuracy"] - p[f"k{k}"]["low"]) for p in points],
            [100 * (p[f"k{k}"]["high"] - p[f"k{k}"]["accuracy"]) for p in points],
        ]
        ax.errorbar(xs, acc, yerr=err, fmt="o-", capsize=3, color=f"C{ci_}", label=f"k={k}")
    for p in points:
        ax.annotate(
            p["label"],
            (p["minutes"], 100 * p["k1"]["accuracy"]),
            fontsize=7,
            textcoords="offset points",
            xytext=(0, -12),
            ha="center",
        )
    ax.axhline(50, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("training minutes on the 2-core CPU")
    ax.set_ylabel("held-out accuracy, ties 0.5 (%)")
    ax.set_title(f"Held-out suite, n={points[0]['n']}: 95% bootstrap intervals")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
