"""Held-out accuracy of a judge before and after training (``scripts/train_user_data.py``,
``scripts/train_eval.py``): one batched pass of k position-balanced chains per pair, k=1 as
the mean single chain, with 95% bootstrap intervals over pairs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def evaluate(model: str | None, rows: list[dict[str, Any]], cfg: Any, engine: str) -> dict:
    """``grm.training.heldout`` metrics of ``model`` on ``rows`` with a train config's
    template, held-out k values, token budget and temperature; load and judging seconds."""
    from grm import RewardModel
    from grm.training.heldout import heldout_metrics, judge_rows

    start = time.perf_counter()
    with RewardModel.load(
        model,
        engine=engine,
        template=cfg.template,
        engine_options={"max_model_len": 4096} if engine == "vllm" else {},
        max_tokens=cfg.heldout_max_tokens,
        temperature=float(cfg.grpo.get("temperature", 1.0)),
    ) as rm:
        loaded = time.perf_counter() - start
        chains = judge_rows(rm, rows, max(cfg.heldout_ks), seed=cfg.seed)
    metrics = heldout_metrics(chains, [r["preferred"] for r in rows], cfg.heldout_ks, cfg.seed)
    metrics["load_seconds"] = loaded
    metrics["seconds"] = time.perf_counter() - start - loaded
    return metrics


def before_after_table(
    results: dict[str, Any], ks: Sequence[int], labels: dict[str, str] | None = None
) -> str:
    """Accuracy at each k with its interval, and parsed chains, for the ``before`` and
    ``after`` rows (``labels`` renames them)."""
    head = " | ".join(f"k={k} (95% CI)" for k in ks)
    lines = [f"| judge | n | {head} | chains with a parsed verdict |"]
    lines.append("|---|---|" + "---|" * (len(ks) + 1))
    for name, label in (labels or {"before": "before", "after": "after"}).items():
        m = results[name]
        cells = " | ".join(
            f"{m[f'accuracy_k{k}']:.1%} ({100 * m[f'ci95_lo_k{k}']:.0f}-{m[f'ci95_hi_k{k}']:.0%})"
            for k in ks
        )
        lines.append(f"| {label} | {int(m['n'])} | {cells} | {m['parsed_rate']:.1%} |")
    return "\n".join(lines)


def accuracy_table(report: dict[str, Any], ks: Sequence[int]) -> str:
    """``scripts/train_eval.py``'s table: per model and suite, accuracy at each k, parsed
    chains, chain tokens and seconds."""
    lines = [
        "| model | suite | n | "
        + " | ".join(f"acc k={k}" for k in ks)
        + " | parsed (k=1) | chain tokens | seconds (k=1 / k=max) |",
        "|---|---|---|" + "---|" * (len(ks) + 3),
    ]
    for model, suites in report.items():
        for name, res in suites.items():
            accs = " | ".join(f"{res[f'k={k}']['accuracy']:.1%}" for k in ks)
            first, last = res[f"k={ks[0]}"], res[f"k={ks[-1]}"]
            lines.append(
                f"| {model} | {name} | {int(first['n'])} | {accs} | {first['parsed_rate']:.0%} "
                f"| {first['chain_tokens']:.0f} | {first['seconds']:.0f} / {last['seconds']:.0f} |"
            )
    return "\n".join(lines)


def pair_scores(chains: Sequence[Sequence[Any]], labels: Sequence[int]) -> dict[str, list[float]]:
    """Per pair, the RewardBench score of one chain (``k1``: the mean single chain) and of
    the majority of all of them (``kmax``), from one pass of position-balanced chains.

    >>> from grm.eval_metrics import ChainRecord
    >>> pair_scores([[ChainRecord(0, 0), ChainRecord(1, 1)]], [0])
    {'k1': [0.5], 'kmax': [0.5]}
    """
    from grm.eval_metrics import majority, rb_score
    from grm.training.heldout import single_chain_score

    return {
        "k1": [single_chain_score(c, y) for c, y in zip(chains, labels, strict=True)],
        "kmax": [rb_score(majority(c), y) for c, y in zip(chains, labels, strict=True)],
    }


def judges_table(figures: dict[str, Any], k_max: int) -> str:
    """Each judge's held-out accuracy at k=1 and k=k_max, then each one's paired difference
    from the first judge (``scripts/eval_heldout.py``)."""

    def cell(f: dict[str, Any], sign: bool = False) -> str:
        fmt = "+.1f" if sign else ".1f"
        return f"{100 * f['mean']:{fmt}} [{100 * f['low']:{fmt}}, {100 * f['high']:{fmt}}]"

    judges = figures["judges"]
    # A column of training minutes where some judge is a checkpoint of a logged run.
    trained = any(m.get("train_seconds") is not None for m in judges.values())

    def minutes(m: dict[str, Any]) -> str:
        t = m.get("train_seconds")
        return (" |" if t is None else f" {t / 60:.1f} |") if trained else ""

    lines = [
        f"| judge | n | k=1 (95% CI) | k={k_max} (95% CI) | chains with a parsed verdict | "
        "seconds |" + (" training minutes |" if trained else ""),
        "|---|---|---|---|---|---|" + ("---|" if trained else ""),
    ]
    for label, m in judges.items():
        lines.append(
            f"| {label} | {m['k1']['n']} | {cell(m['k1'])} | {cell(m['kmax'])} "
            f"| {m['parsed_rate']:.1%} | {m['seconds']:.0f} |{minutes(m)}"
        )
    first = next(iter(judges))
    for label, d in figures.get("diff", {}).items():
        lines.append(
            f"| {label} - {first} (paired) | {d['k1']['n']} | {cell(d['k1'], True)} "
            f"| {cell(d['kmax'], True)} | | |{minutes({})}"
        )
    return "\n".join(lines)


def checkpoint_seconds(model: str | Path) -> float | None:
    """Seconds into its training stage at which ``model`` was saved, where ``model`` is a
    ``grm train`` checkpoint (``OUT/checkpoints-STAGE/checkpoint-N``): the ``time_s`` that
    ``OUT/metrics.jsonl`` logged at step N of that stage. None for anything else.

    >>> checkpoint_seconds("grm-judge-135m") is None
    True
    """
    from grm.training.common import METRICS_FILE
    from grm.training.plot import read_metrics

    path = Path(model)
    stage = path.parent.name.removeprefix("checkpoints-")
    step = path.name.removeprefix("checkpoint-")
    metrics = path.parent.parent / METRICS_FILE
    if stage == path.parent.name or not step.isdigit() or not metrics.is_file():
        return None
    return next(
        (
            float(row["time_s"])
            for row in read_metrics(metrics)
            if row.get("stage") == stage and row.get("step") == int(step) and "time_s" in row
        ),
        None,
    )


def judge_chains(
    model: str,
    rows: Sequence[Any],
    template: str,
    max_tokens: int,
    k: int,
    engine: str,
    seed: int,
    dtype: str = "auto",
) -> tuple[list[Any], float, float]:
    """``model``'s k position-balanced chains per held-out row (temperature 1.0, one batched
    pass): the chains as the metrics see them, load seconds, judging seconds. ``dtype`` goes
    to the engine: judges compared on one record should share it (on vLLM-CPU "auto" is
    bfloat16 where the CPU has native kernels and float32 where it has not)."""
    from grm import RewardModel
    from grm.training.heldout import judge_rows

    start = time.perf_counter()
    options = {} if dtype == "auto" else {"dtype": dtype}
    with RewardModel.load(
        model,
        engine=engine,
        template=template,
        max_tokens=max_tokens,
        temperature=1.0,
        engine_options=options,
    ) as rm:
        loaded = time.perf_counter() - start
        chains = judge_rows(rm, rows, k, seed=seed)
    return chains, loaded, time.perf_counter() - start - loaded


def add_judge(
    run: Any,
    scores: dict[str, dict[str, list[float]]],
    label: str,
    model: str,
    measured: tuple[list[Any], float, float],
    labels: Sequence[int],
    seed: int = 0,
) -> dict[str, Any]:
    """Put one judge's figures (and its paired difference from the first judge) into the
    run record ``run`` and its per-pair scores into ``scores`` and ``run.items``."""
    from grm.benchmarks.record import figure

    chains, loaded, seconds = measured
    scores[label] = s = pair_scores(chains, labels)
    total = sum(len(c) for c in chains)
    run.figures["judges"][label] = {
        "model": model,
        "k1": figure(s["k1"], seed),
        "kmax": figure(s["kmax"], seed),
        "parsed_rate": sum(not c.forced for cs in chains for c in cs) / max(total, 1),
        "load_seconds": loaded,
        "seconds": seconds,
        "train_seconds": checkpoint_seconds(model),
    }
    first = next(iter(scores))
    if label != first:
        run.figures["diff"][label] = {
            key: figure([a - b for a, b in zip(s[key], scores[first][key], strict=True)], seed)
            for key in ("k1", "kmax")
        }
    run.items = [
        {"label": y, **{f"{j}_{key}": v[key][i] for j, v in scores.items() for key in v}}
        for i, y in enumerate(labels)
    ]
    return dict(run.figures["judges"][label])


def resume(
    run: Any, old: dict[str, Any], labels: Sequence[int], only: str | None = None
) -> dict[str, dict[str, list[float]]]:
    """Carry an earlier record's judges into ``run`` (same pairs required); their scores.

    ``only`` carries just that judge (``""``: the record's first), which becomes the one every
    paired difference is taken from, so a new record compares new judges with it without
    judging it again.
    """
    if [it["label"] for it in old["items"]] != list(labels):
        raise ValueError(f"record {old['name']} holds other pairs than this split.")
    if only is not None:
        judges = old["figures"]["judges"]
        name = only or next(iter(judges))
        if name not in judges:
            raise ValueError(
                f"record {old['name']} has no judge {name!r}; it has {', '.join(judges)}."
            )
        run.figures = {"judges": {name: judges[name]}, "diff": {}}
        run.data["command"] = f"(judge {name} from record {old['name']}) && " + run.data["command"]
    else:
        run.figures = old["figures"]
        run.data["command"] = old["command"] + " && " + run.data["command"]
    return {
        label: {key: [it[f"{label}_{key}"] for it in old["items"]] for key in ("k1", "kmax")}
        for label in run.figures["judges"]
    }
