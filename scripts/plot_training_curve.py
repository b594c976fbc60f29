"""Held-out accuracy at k=1 and k=max against training time, from ``bench_scaling.py`` reports.

Each ``--point LABEL:MINUTES:REPORT[:JUDGE]`` is one judge (a checkpoint of a training run) at
the training minutes it had cost, and the ``bench_scaling.py --json`` report that evaluated it
(``JUDGE`` picks the report's judge when it holds several). Reports of different sizes are
read on their common pairs: the held-out pairs of ``--per-kind`` per task kind, which every
larger report of the same suite contains (``grm.training.tasks`` draws a kind's items as one
seeded stream, so a smaller set is a subset of a larger one). Accuracy per pair is the same
expected k-chain majority score as in ``bench_scaling.py``, with a 95% bootstrap interval.

    .venv/bin/python scripts/plot_training_curve.py --per-kind 10 \\
        --point base:0:runs/scaling/base.json --point sft-80:48.4:runs/scaling/sft.json \\
        --plot docs/training_curve.png --json docs/training_curve.json

Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def _key(item: Any) -> tuple[str, tuple[str, ...]]:
    request = item[0]
    return request.prompt, tuple(request.responses)


def common_pairs(report: dict[str, Any], judge: str | None, per_kind: int) -> dict[str, Any]:
    """The report's chains and labels on the first ``per_kind`` held-out pairs of each kind."""
    from bench_scaling import suite

    from grm.eval_metrics import ChainRecord

    args = report["args"]
    kinds, tier = args["kinds"], args["tier"]
    if args["per_kind"] < per_kind:
        raise ValueError(
            f"the report has {args['per_kind']} pairs a kind, fewer than --per-kind {per_kind}."
        )
    name = judge or next(iter(report["judges"]))
    pairs = report["judges"][name]["suite"]["pairs"]
    index = {_key(item): i for i, item in enumerate(suite(kinds, args["per_kind"], tier))}
    chains, labels = [], []
    for item in suite(kinds, per_kind, tier):
        pair = pairs[index[_key(item)]]
        assert pair["label"] == item[1] and pair["kind"] == item[2]
        chains.append([ChainRecord(f, w, bool(forced)) for f, w, forced in pair["chains"]])
        labels.append(pair["label"])
    return {"judge": name, "chains": chains, "labels": labels, "max_k": args["max_k"]}


def point(label: str, minutes: float, data: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    from grm.scaling_metrics import bootstrap_interval, pair_scores_at_k

    out: dict[str, Any] = {"label": label, "minutes": minutes, "n": len(data["labels"])}
    for k in (1, data["max_k"]):
        scores = pair_scores_at_k(data["chains"], data["labels"], k, resamples=50, seed=seed)
        lo, hi = bootstrap_interval(scores, seed=seed)
        out[f"k{k}"] = {"accuracy": sum(scores) / len(scores), "low": lo, "high": hi}
    return out


def plot(points: list[dict[str, Any]], max_k: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [p["minutes"] for p in points]
    for ci, k in enumerate((1, max_k)):
        acc = [100 * p[f"k{k}"]["accuracy"] for p in points]
        err = [
            [100 * (p[f"k{k}"]["accuracy"] - p[f"k{k}"]["low"]) for p in points],
            [100 * (p[f"k{k}"]["high"] - p[f"k{k}"]["accuracy"]) for p in points],
        ]
        ax.errorbar(xs, acc, yerr=err, fmt="o-", capsize=3, color=f"C{ci}", label=f"k={k}")
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--point", action="append", required=True, help="LABEL:MINUTES:REPORT[:JUDGE]")
    p.add_argument("--per-kind", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--plot", default=None)
    args = p.parse_args()

    points, max_ks = [], set()
    for spec in args.point:
        label, minutes, report_path, *judge = spec.split(":")
        report = json.loads(Path(report_path).read_text())
        data = common_pairs(report, judge[0] if judge else None, args.per_kind)
        max_ks.add(data["max_k"])
        points.append({**point(label, float(minutes), data, args.seed), "report": report_path})
    if len(max_ks) != 1:
        raise SystemExit(f"the reports sampled different max_k {sorted(max_ks)}; use one.")
    max_k = max_ks.pop()
    print(f"| judge | training minutes | n | k=1 | k={max_k} |")
    print("|---|---|---|---|---|")
    for q in points:
        cells = [
            f"{100 * q[f'k{k}']['accuracy']:.1f} [{100 * q[f'k{k}']['low']:.1f}, "
            f"{100 * q[f'k{k}']['high']:.1f}]"
            for k in (1, max_k)
        ]
        print(f"| {q['label']} | {q['minutes']:.1f} | {q['n']} | {cells[0]} | {cells[1]} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "points": points}, indent=1))
    if args.plot:
        plot(points, max_k, Path(args.plot))


if __name__ == "__main__":
    main()
