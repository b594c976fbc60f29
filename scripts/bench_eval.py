"""Benchmark the evaluation harness and the calibrators on a JudgeBench subset.

For each judge (the embedded base model; a trained judge directory when given) it runs the
``grm eval`` harness once at k chains per pair (a seeded random subset of JudgeBench rows,
read from ../shared/data), then cross-validates every registered calibrator on the pairs'
raw probabilities: ECE, Brier and log-loss before, and after on held-out folds. It writes
each judge's report and plots under ``--out`` and prints Markdown tables.

    .venv/bin/python scripts/bench_eval.py --limit 40 --k 8 --max-tokens 48
    .venv/bin/python scripts/bench_eval.py --models runs/judge-sft --data held-out-tasks
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grm.calibration import calibrator_names, cross_validate
from grm.calibration.plots import plot_reliability

from grm import RewardModel
from grm.evaluation import EvalConfig, evaluate, load_items, write_report

ROOT = Path(__file__).resolve().parents[1]
JUDGEBENCH = ROOT.parent / "shared" / "data" / "judgebench-gpt4o.jsonl"


def task_rows(n: int) -> list[dict[str, Any]]:
    """Held-out verifiable addition pairs (grm.training.tasks), in the task row shape."""
    from grm.training.tasks import TaskConfig, make_tasks

    return make_tasks(TaskConfig(), "eval", n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default=str(JUDGEBENCH), help="a file, or 'held-out-tasks'")
    p.add_argument("--limit", type=int, default=40)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--engine", default="vllm")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", nargs="*", default=[None], help="judge dirs; default: embedded")
    p.add_argument("--out", default=str(ROOT / "docs" / "eval"))
    args = p.parse_args()

    if args.data == "held-out-tasks":
        items = load_items(task_rows(args.limit), seed=args.seed)
        data_name = "addition (held-out)"
    else:
        items = load_items(args.data, args.limit, args.seed)
        data_name = Path(args.data).stem
    cfg = EvalConfig(k=args.k, batch_size=8, resamples=50, seed=args.seed)
    summary: dict[str, Any] = {
        "command": "scripts/bench_eval.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "models"),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": "2-core CPU, 24 GiB, no GPU",
        "judges": {},
    }
    for model in args.models:
        name = Path(model).name if model else "base"
        t0 = time.perf_counter()
        opts = {"max_model_len": 4096} if args.engine == "vllm" else None
        rm = RewardModel.load(
            model or None,
            engine=args.engine,
            max_tokens=args.max_tokens,
            seed=args.seed,
            engine_options=opts,
            calibrator=False,
        )
        load_s = time.perf_counter() - t0
        report = evaluate(rm, items, cfg)
        rm.close()
        report["data"] = data_name
        report["load_seconds"] = load_s
        out = Path(args.out) / f"{name}-{'tasks' if args.data == 'held-out-tasks' else 'jb'}"
        write_report(report, out)
        scored = [it for it in report["items"] if it["p_raw"] is not None]
        probs = [float(it["p_raw"]) for it in scored]
        labels = [1.0 if it["label"] == 0 else 0.0 for it in scored]
        cv = {
            m: cross_validate(m, probs, labels, args.folds, args.seed) for m in calibrator_names()
        }
        plot_reliability(
            {
                "Beta posterior (raw)": (probs, labels),
                "isotonic (held-out folds)": (cv["isotonic"]["oof"], labels),
                "temperature (held-out folds)": (cv["temperature"]["oof"], labels),
            },
            out / "reliability_cv.png",
            title=f"{name} on {data_name}: held-out calibration",
        )
        for m in cv.values():
            m.pop("oof")
        (out / "calibration_cv.json").write_text(json.dumps(cv, indent=2))
        summary["judges"][name] = {
            "data": data_name,
            "n": report["n"],
            "accuracy": report["accuracy"],
            "strict_accuracy": report["strict_accuracy"],
            "accuracy_vs_k": report["accuracy_vs_k"],
            "position": report["position"],
            "rates": report["rates"],
            "length": report["length"]["longer_win_rate"],
            "seconds": report["seconds"],
            "tokens": report["tokens"],
            "calibration_cv": cv,
            "out": str(out),
        }
        print(f"## {name} on {data_name} ({report['n']} pairs, k={args.k})")
        print("| k | " + " | ".join(str(x["k"]) for x in report["accuracy_vs_k"]) + " |")
        print("|---|" + "---|" * len(report["accuracy_vs_k"]))
        print(
            "| accuracy (ties 0.5) | "
            + " | ".join(
                f"{100 * x['accuracy']:.1f} ± {100 * x['stderr']:.1f}"
                for x in report["accuracy_vs_k"]
            )
            + " |"
        )
        print(
            "| strict accuracy | "
            + " | ".join(f"{100 * x['strict']:.1f}" for x in report["accuracy_vs_k"])
            + " |"
        )
        pos, rates = report["position"], report["rates"]
        print(
            f"\nswap consistency {pos['swap_consistency']}, first-slot rate "
            f"{pos['first_slot_rate']}, forced {rates['forced']:.2f}, abstention "
            f"{rates['abstention']:.2f}, ties {rates['tie']:.2f}, longer-win "
            f"{report['length']['longer_win_rate']}, {report['seconds']:.0f} s\n"
        )
        print("| calibrator | ECE | ECE (mass) | Brier | log-loss |")
        print("|---|---|---|---|---|")
        before = cv["beta"]["before"]
        print(
            f"| raw (Beta posterior) | {before['ece']:.3f} | {before['ece_mass']:.3f} | "
            f"{before['brier']:.3f} | {before['log_loss']:.3f} |"
        )
        for m, r in cv.items():
            if m == "beta":
                continue
            a = r["after"]
            print(
                f"| {m} (held-out) | {a['ece']:.3f} | {a['ece_mass']:.3f} | {a['brier']:.3f} | "
                f"{a['log_loss']:.3f} |"
            )
        print()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    tag = "tasks" if args.data == "held-out-tasks" else "jb"
    names = "-".join(summary["judges"])
    (Path(args.out) / f"summary-{names}-{tag}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
