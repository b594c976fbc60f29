"""What ``grm train CONFIG --check-data`` reports about a preference file.

:class:`DataReport` holds the outcome of :func:`grm.training.user_data.prepare`: the train
and held-out rows, every dropped row with its reason, the judge-prompt lengths and the label
balance; :func:`format_report` turns it into the printed check.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grm.training.tasks import TaskRow


def prompt_key(prompt: Any) -> str:
    """The text a prompt is grouped by: whitespace-trimmed, messages as canonical JSON."""
    if isinstance(prompt, str):
        return " ".join(prompt.split())
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)


@dataclass
class Dropped:
    """A row that was not used, and why."""

    index: int
    """Position of the record in the source (0-based; JSONL line numbers are in the reason)."""
    reason: str
    """What is wrong, naming the field and the fix."""
    kind: str
    """Short category: missing_field, empty_response, bad_label, tie, too_long, invalid."""


@dataclass
class DataReport:
    """What :func:`prepare` did with a data source."""

    source: str
    format: str
    records: int
    train: list[TaskRow] = field(default_factory=list)
    heldout: list[TaskRow] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    """Judge-prompt length of every kept row (``length_unit``)."""
    length_unit: str = "tokens"
    labels: Counter[str] = field(default_factory=Counter)
    """Label balance of the kept rows, as the source states it (A>B / B>A, chosen, best=i)."""
    max_prompt_length: int | None = None

    @property
    def kept(self) -> int:
        return len(self.train) + len(self.heldout)

    def dropped_by_kind(self) -> dict[str, int]:
        return dict(Counter(d.kind for d in self.dropped))

    def summary(self) -> dict[str, Any]:
        """Counts, percentiles and balance as a JSON-able dict (no rows)."""
        train_prompts = {prompt_key(r["prompt"]) for r in self.train}
        held_prompts = {prompt_key(r["prompt"]) for r in self.heldout}
        return {
            "source": self.source,
            "format": self.format,
            "records": self.records,
            "kept": self.kept,
            "dropped": len(self.dropped),
            "dropped_by_kind": self.dropped_by_kind(),
            "train_rows": len(self.train),
            "heldout_rows": len(self.heldout),
            "train_prompts": len(train_prompts),
            "heldout_prompts": len(held_prompts),
            "prompts_in_both": len(train_prompts & held_prompts),
            "length_unit": self.length_unit,
            "length_percentiles": percentiles(self.lengths),
            "max_prompt_length": self.max_prompt_length,
            "labels": dict(self.labels),
        }


def percentiles(values: Sequence[int], qs: Sequence[int] = (50, 90, 99)) -> dict[str, int]:
    """Nearest-rank percentiles and the maximum.

    >>> percentiles([5, 1, 3, 2, 4])
    {'p50': 3, 'p90': 5, 'p99': 5, 'max': 5}
    """
    if not values:
        return {}
    ordered = sorted(values)
    out = {
        f"p{q}": ordered[min(len(ordered) - 1, max(0, -(-q * len(ordered) // 100) - 1))] for q in qs
    }
    out["max"] = ordered[-1]
    return out


def format_report(report: DataReport, show: int | None = None) -> str:
    """The ``--check-data`` text: counts, lengths, balance, then each dropped row (the first
    ``show`` of them; None: all)."""
    s = report.summary()
    pct = s["length_percentiles"]
    lines = [
        f"data: {s['source']} (format: {s['format']})",
        f"records: {s['records']}  kept: {s['kept']}  dropped: {s['dropped']}"
        + (f"  {s['dropped_by_kind']}" if s["dropped"] else ""),
        f"split by prompt: train {s['train_rows']} rows / {s['train_prompts']} prompts, "
        f"held-out {s['heldout_rows']} rows / {s['heldout_prompts']} prompts, "
        f"prompts in both: {s['prompts_in_both']}",
        "judge-prompt length ("
        + s["length_unit"]
        + "): "
        + (", ".join(f"{k} {v}" for k, v in pct.items()) if pct else "no rows kept")
        + (f"  (limit {s['max_prompt_length']})" if s["max_prompt_length"] else ""),
        "labels: " + (", ".join(f"{k} {v}" for k, v in sorted(s["labels"].items())) or "none"),
    ]
    if report.dropped:
        lines.append("dropped rows:")
        for d in report.dropped[:show]:
            lines.append(f"  [{d.kind}] {d.reason}")
        if show is not None and len(report.dropped) > show:
            lines.append(f"  ... and {len(report.dropped) - show} more")
    return "\n".join(lines)
