"""Training curves and the end-of-run summary from ``metrics.jsonl`` (one row per logged
step, written by both stages; held-out accuracy rows from :mod:`grm.training.heldout`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Panels: (title, candidate metric keys, first found is drawn), SFT and GRPO keys together.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("loss", ("loss",)),
    ("SFT token accuracy", ("mean_token_accuracy",)),
    ("GRPO reward", ("reward",)),
    ("GRPO verdict accuracy", ("judge/accuracy",)),
    ("GRPO parse-failure rate", ("judge/parse_failure_rate",)),
    ("chain tokens", ("judge/chain_tokens", "completions/mean_length")),
    ("held-out accuracy k=1", ("heldout/accuracy_k1",)),
    ("held-out accuracy k=8", ("heldout/accuracy_k8",)),
)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a metrics file; the trainer's end-of-run summary rows are dropped."""
    rows = []
    with Path(path).open() as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if "train_runtime" not in row and "event" not in row:
                    rows.append(row)
    return rows


def plot_metrics(
    path: str | Path | Sequence[str | Path], png: str | Path, title: str = "grm judge training"
) -> Path:
    """Draw every panel that has data against the step, one line per stage.

    ``path`` may list several metrics files (an SFT run and the GRPO run on top of it).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [path] if isinstance(path, str | Path) else list(path)
    rows = [row for p in paths for row in read_metrics(p)]
    panels = [(t, next((k for k in keys if any(k in r for r in rows)), None)) for t, keys in PANELS]
    panels = [(t, k) for t, k in panels if k is not None]
    if not panels:
        raise ValueError(f"{path} holds no metric to plot; is it a grm metrics.jsonl?")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False)
    for ax, (name, key) in zip(axes[0], panels, strict=True):
        for stage in ("sft", "grpo"):
            pts = [(r["step"], r[key]) for r in rows if r.get("stage") == stage and key in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=stage, lw=1.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png


def summarize_run(path: str | Path) -> dict[str, Any]:
    """The end-of-run summary from a metrics file: per stage, the steps, the last training
    figures, and the held-out accuracy at the first and last evaluation.

    The held-out rows (``heldout/*``) are the callback's; training figures are the means of
    the last 10 logged steps (one step of a small batch is noisy).
    """
    rows = read_metrics(path)
    out: dict[str, Any] = {}
    for stage in ("sft", "grpo"):
        mine = [r for r in rows if r.get("stage") == stage]
        if not mine:
            continue
        train = [r for r in mine if "loss" in r]
        tail = train[-10:]
        keys = (
            "loss",
            "reward",
            "judge/accuracy",
            "judge/parse_failure_rate",
            "mean_token_accuracy",
        )
        held = [r for r in mine if any(k.startswith("heldout/") for k in r)]
        out[stage] = {
            "steps": max((int(r["step"]) for r in mine), default=0),
            "last_10_steps": {
                k: sum(r[k] for r in tail if k in r) / n
                for k in keys
                if (n := sum(k in r for r in tail))
            },
            "heldout": [
                {"step": r["step"], **{k[8:]: v for k, v in r.items() if k.startswith("heldout/")}}
                for r in held
            ],
            "seconds": max((r.get("time_s", 0.0) for r in mine), default=0.0),
        }
    return out
