"""The evaluation harness: judge labelled pairs once at the largest k, report everything.

Data comes in any labelled shape :mod:`grm.rows` reads, as JSONL, Parquet or a ``datasets``
dataset:

- RewardBench: ``prompt``, ``chosen``, ``rejected`` (optional ``subset``), and the other
  chosen/rejected shapes (TRL conversations, HH-RLHF transcripts). The chosen response is
  put in slot A or B by a seeded coin per item, as RewardBench shuffles.
- JudgeBench: ``question``, ``response_A``, ``response_B``, ``label`` ("A>B" or "B>A"),
  optional ``source``.
- ``prompt``, ``responses``, ``preferred`` rows, as the verifiable training tasks write them.

A row that cannot be evaluated (no label, an empty reply, a line that is not JSON) is
dropped with its reason by :func:`read_items` (``grm eval`` reports them); :func:`load_items`
raises on the first. One pass samples ``k`` chains per pair; accuracy at every smaller k is read
from those chains by resampling (see :mod:`grm.eval_metrics`), so the curve costs no
extra engine call.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grm.aggregation import get_aggregator
from grm.eval_metrics import ChainRecord, summarize
from grm.progress import ChainProgress, Progress
from grm.rows import RowError, place, read_numbered, read_row
from grm.types import JudgeRequest, Judgment

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalItem:
    """A labelled pair: ``label`` is the index of the better response in ``request``."""

    id: str
    request: JudgeRequest
    label: int
    group: str = "all"


@dataclass(frozen=True)
class EvalConfig:
    """How an evaluation samples and reports."""

    k: int = 8
    """Chains per pair in the single pass (the largest k on the accuracy-vs-k curve)."""
    batch_size: int = 8
    """Pairs per engine call (the progress bar advances per batch)."""
    resamples: int = 50
    """Random chain subsets per smaller k when resampling the accuracy-vs-k curve."""
    seed: int = 0
    """Seed of the A/B placement, the --limit subset, the judge and the resampling."""
    limit: int | None = None
    """Evaluate a seeded random subset of this many pairs; None: all."""
    n_bins: int = 10
    """Bins of the calibration metrics and the reliability diagram."""

    def __post_init__(self) -> None:
        for name in ("k", "batch_size", "resamples", "n_bins"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 or None (all pairs), got {self.limit}.")


# ---------------------------------------------------------------- loading


def item_from_row(
    row: Mapping[str, Any], index: int, rng: random.Random, fmt: str = "auto"
) -> EvalItem:
    """One labelled pair from a row of any labelled shape (chosen-first pairs placed by ``rng``,
    one coin per item, as RewardBench does); :class:`~grm.rows.RowError` names the row."""
    try:
        item = place(read_row(row, fmt, labelled=True), rng)
        if len(item.responses) != 2:
            raise RowError(f"grm eval judges pairs; the row has {len(item.responses)} responses.")
        request = item.request()
    except ValueError as exc:
        raise RowError(f"row {index}: {exc}", getattr(exc, "kind", "invalid")) from None
    assert item.preferred is not None  # labelled=True
    rid = str(row.get("id", row.get("pair_id", index)))
    return EvalItem(rid, request, item.preferred, item.group or "all")


def read_items(
    source: str | Path | Iterable[Mapping[str, Any]],
    limit: int | None = None,
    seed: int = 0,
    split: str = "train",
    fmt: str = "auto",
) -> tuple[list[EvalItem], list[str]]:
    """(labelled pairs, why each unusable row was dropped, naming its line in a file);
    ``limit`` takes a seeded subset of the rows. A name that is not a path is read with
    ``datasets.load_dataset``."""
    is_file = isinstance(source, (str, Path))
    numbered = read_numbered(source, split, hub=is_file)
    indices = list(range(len(numbered)))
    if limit is not None and limit < len(numbered):
        indices = sorted(random.Random(seed).sample(indices, limit))
    rng = random.Random(f"{seed}-placement")
    items, dropped = [], []
    for i in indices:
        line, row = numbered[i]
        try:
            items.append(item_from_row(row, i, rng, fmt))
        except RowError as exc:
            text = str(exc)
            dropped.append(f"line {line}: {text.removeprefix(f'row {i}: ')}" if is_file else text)
    return items, dropped


def load_items(
    source: str | Path | Iterable[Mapping[str, Any]],
    limit: int | None = None,
    seed: int = 0,
    split: str = "train",
    fmt: str = "auto",
) -> list[EvalItem]:
    """Labelled pairs from a file, a dataset or rows; raises on an unusable row."""
    items, dropped = read_items(source, limit, seed, split, fmt)
    if dropped:
        more = f" ({len(dropped) - 1} more rows are unusable)" if len(dropped) > 1 else ""
        raise RowError(dropped[0] + more)
    return items


# ---------------------------------------------------------------- the pass


def record_winner(j: Judgment) -> int | str | None:
    """A chain's vote as :attr:`ChainRecord.winner`: the preferred index, ``'tie'`` (an
    explicit tie or no single winner), or None when the chain abstained."""
    if j.abstained:
        return None
    if j.tie:
        return "tie"
    return j.winner if j.winner is not None else "tie"


def evaluate(
    rm: Any, items: Sequence[EvalItem], cfg: EvalConfig, progress: Progress = None
) -> dict:
    """Judge every pair with ``cfg.k`` chains (batched) and build the report dict.

    ``progress``: a bar with pairs and chains/s on stderr (None: when it is a terminal)."""
    if not items:
        raise ValueError("no pairs to evaluate; check the data path and --limit.")
    records: list[dict[str, Any]] = []
    chains: list[list[ChainRecord]] = []
    start = time.perf_counter()
    bar = ChainProgress(len(items), "grm eval", "pair", progress)
    for lo in range(0, len(items), cfg.batch_size):
        batch = items[lo : lo + cfg.batch_size]
        results = rm.compare_batch([it.request for it in batch], k=cfg.k, seed=cfg.seed)
        for it, r in zip(batch, results, strict=True):
            judgments = [c.judgment for c in r.chains]
            raw = get_aggregator(r.aggregator)(judgments, 2).probability
            chains.append(
                [ChainRecord(c.order[0], record_winner(c.judgment), c.forced) for c in r.chains]
            )
            records.append(
                {
                    "id": it.id,
                    "group": it.group,
                    "label": it.label,
                    "winner": r.winner,
                    "verdict": r.label,
                    "p": r.probability,
                    "p_raw": raw,
                    "calibrated": r.calibrated,
                    "votes": list(r.votes),
                    "ties": r.ties,
                    "abstentions": r.abstentions,
                    "forced": r.forced,
                    "k_used": r.k_used,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                    "len_a": len(it.request.responses[0]),
                    "len_b": len(it.request.responses[1]),
                    "chains": [[c.first, c.winner, c.forced] for c in chains[-1]],
                }
            )
        bar.update(len(batch), chains=sum(r.k_used for r in results))
    bar.close()
    seconds = time.perf_counter() - start
    report = summarize(records, chains, cfg.k, cfg.resamples, cfg.seed, cfg.n_bins)
    report["seconds"] = seconds
    report["seconds_per_pair"] = seconds / len(items)
    report["config"] = asdict(cfg)
    report["judge"] = {
        "model": getattr(rm, "model_path", None),
        "engine": getattr(getattr(rm, "engine", None), "name", None),
        "template": getattr(getattr(rm, "template", None), "name", None),
        "max_tokens": getattr(getattr(rm, "config", None), "max_tokens", None),
        "calibrator": getattr(rm, "calibrator_path", None),
    }
    report["items"] = records
    return report


def write_report(report: dict, out_dir: str | Path, plots: bool = True) -> dict[str, Path]:
    """Write ``report.json`` and, with ``plots``, ``accuracy_vs_k.png`` and ``reliability.png``."""
    from grm.calibration.plots import plot_accuracy_vs_k, plot_reliability

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.json"}
    paths["report"].write_text(json.dumps(report, indent=2))
    if plots:
        curves = {"all": report["accuracy_vs_k"]}
        groups = report.get("accuracy_vs_k_by_group", {})
        if 1 < len(groups) <= 5:
            curves.update(groups)
        model = Path(str(report["judge"].get("model") or "judge")).name
        paths["accuracy_vs_k"] = plot_accuracy_vs_k(
            curves, out / "accuracy_vs_k.png", f"{model}: accuracy vs k (ties 0.5)"
        )
        items = report["items"]
        labels = [1.0 if it["label"] == 0 else 0.0 for it in items if it["p_raw"] is not None]
        series = {
            "Beta posterior (raw)": (
                [it["p_raw"] for it in items if it["p_raw"] is not None],
                labels,
            )
        }
        if any(it["calibrated"] for it in items):
            series["calibrated"] = (
                [it["p"] for it in items if it["p_raw"] is not None],
                labels,
            )
        paths["reliability"] = plot_reliability(
            series, out / "reliability.png", report["config"]["n_bins"], f"{model}: reliability"
        )
    return paths
