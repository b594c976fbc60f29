"""The end of a job: merge the shards into the output file, the errors file and a summary.

The output holds every input row once, in input order, under its own row id: rows with the
same content share one judgement (one item) but each comes out with its own columns (rows
the driver cannot place come last, by id). A row that cannot be judged, a line that is not a
JSON object included, goes to the errors file with its line number. ``format="dpo"`` writes
``prompt`` / ``chosen`` / ``rejected`` rows, the shape TRL's ``DPOTrainer`` reads
(conversational when the prompt is a message list).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grm.jobs.config import JobConfig
from grm.jobs.ids import row_ids
from grm.jobs.rows import write_rows
from grm.jobs.shards import _atomic_write
from grm.rows import BAD_LINE, read_row

#: One input row as the output needs it: (line, the row, its item id); line is the 1-based
#: line of a JSONL file (the row's position in other containers).
InputRow = tuple[int, Mapping[str, Any], str]


@dataclass
class Summary:
    """What a job did. ``judged``, ``errors`` and the counts below them are this run's;
    ``rows`` and ``done`` describe the whole input."""

    task: str
    rows: int
    """Input rows."""
    items: int
    """Distinct items (rows with identical content are one item)."""
    skipped: int
    """Items a previous run had finished (not judged again)."""
    judged: int
    """Items judged in this run."""
    errors: int
    """Items this run could not judge (see the errors file)."""
    done: int
    """Items in the output after this run."""
    chains: int
    prompt_tokens: int
    completion_tokens: int
    ties: int
    """Results that are ties (label) or chain votes for a tie (rank)."""
    abstentions: int
    """Chains that gave no verdict."""
    no_verdict: int
    """Results where every chain abstained (label 'none')."""
    seconds: float
    """Wall time of the whole run (reading and the model load included)."""
    judge_seconds: float
    """Time spent judging (the throughput's denominator)."""
    rows_per_s: float
    chains_per_s: float
    written: int = 0
    """Rows written to the output file (fewer than done with format='dpo' filters)."""
    error_rows: int = 0
    """Rows written to the errors file (every input row of an item that failed)."""
    output: str = ""
    errors_file: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        return [
            f"rows: {self.rows} ({self.items} distinct)  judged now: {self.judged}  "
            f"skipped (done before): {self.skipped}  errors: {self.errors}",
            f"chains: {self.chains}  tokens: {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion",
            f"ties: {self.ties}  abstentions: {self.abstentions} chains, "
            f"{self.no_verdict} results with no verdict",
            f"time: {self.seconds:.1f} s ({self.judge_seconds:.1f} s judging)  "
            f"throughput: {self.rows_per_s:.3f} rows/s, "
            f"{self.chains_per_s:.2f} chains/s",
            f"output: {self.output} ({self.written} rows)  errors: {self.errors_file} "
            f"({self.error_rows} rows)",
        ]


def record_chains(rec: Mapping[str, Any]) -> int:
    """Chains a shard record's judgment used (0 for an error record)."""
    return 0 if "error" in rec else int(rec["fields"].get("grm_k") or 0)


def summarize(
    task: str,
    rows: int,
    items: int,
    skipped: int,
    new: Iterable[Mapping[str, Any]],
    done: int,
    seconds: float,
    judge_seconds: float,
) -> Summary:
    """Count this run's records (pure)."""
    judged = errors = chains = pt = ct = ties = abst = none = 0
    for rec in new:
        if "error" in rec:
            errors += 1
            continue
        f = rec["fields"]
        judged += 1
        chains += record_chains(rec)
        pt += int(f.get("grm_prompt_tokens") or 0)
        ct += int(f.get("grm_completion_tokens") or 0)
        abst += int(f.get("grm_abstentions") or 0)
        if task == "label":
            ties += f.get("grm_verdict") == "tie"
            none += f.get("grm_verdict") == "none"
        else:
            ties += int(f.get("grm_ties") or 0)
    s = max(judge_seconds, 1e-9)
    return Summary(
        task,
        rows,
        items,
        skipped,
        judged,
        errors,
        done,
        chains,
        pt,
        ct,
        ties,
        abst,
        none,
        round(seconds, 3),
        round(judge_seconds, 3),
        round(judged / s, 4),
        round(chains / s, 4),
    )


def output_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    return {**rec["row"], "grm_row_id": rec["id"], **rec["fields"]}


def error_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The errors file's line: the row id, the input line, the stage, the reason, the row
    (the raw text of a line that is not a JSON object)."""
    row = rec["row"]
    line = rec.get("line")
    return {
        "grm_row_id": rec["id"],
        "line": line,
        "stage": rec["stage"],
        "error": rec["error"] if line is None else f"line {line}: {rec['error']}",
        "row": row.get("text") if row.get(BAD_LINE) is not None else row,
    }


def dpo_rows(records: Iterable[Mapping[str, Any]], cfg: JobConfig) -> list[dict[str, Any]]:
    """prompt/chosen/rejected rows from labelled pairs (pure).

    'none' (no verdict) is always dropped; a tie is dropped or kept in input order per
    ``cfg.ties``; a pair whose winner's probability is below ``cfg.min_confidence`` is dropped.
    The prompt and the two responses are the row's as :mod:`grm.rows` reads them (an HH-RLHF
    transcript pair gives the conversation and the two last replies).
    """
    out = []
    for rec in records:
        f = rec["fields"]
        v = f["grm_verdict"]
        if v == "none" or (v == "tie" and cfg.ties == "drop"):
            continue
        if v != "tie" and (f["grm_confidence"] or 0.0) < cfg.min_confidence:
            continue
        item = read_row(rec["row"], cfg.data_format)
        a, b = item.responses
        chosen, rejected = (b, a) if v == "B" else (a, b)
        prompt = item.prompt
        if isinstance(prompt, list):  # conversational: completions are message lists too
            chosen, rejected = _as_messages(chosen), _as_messages(rejected)
        out.append({"prompt": prompt, "chosen": chosen, "rejected": rejected})
    return out


def _as_messages(x: Any) -> list[dict[str, str]]:
    if isinstance(x, list):
        return x
    return [{"role": "assistant", "content": str(x)}]


def per_row(
    records: Mapping[str, Mapping[str, Any]], inputs: Sequence[InputRow] | None
) -> list[dict[str, Any]]:
    """One record per input row, in input order, each with the row's own id, line and columns
    (pure). Records no input row names (``inputs`` None: all) come last, by id."""
    out: list[dict[str, Any]] = []
    placed: set[str] = set()
    if inputs is not None:
        ids = row_ids([item for _, _, item in inputs])
        for (line, row, item), rid in zip(inputs, ids, strict=True):
            rec = records.get(item)
            if rec is None:
                continue  # not judged (a run cut short); the next run judges it
            placed.add(item)
            out.append({**rec, "id": rid, "line": line, "row": dict(row)})
    out.extend(dict(records[k]) for k in sorted(records) if k not in placed)
    return out


def finalize(
    records: Mapping[str, Mapping[str, Any]],
    inputs: Sequence[InputRow] | None,
    paths: Mapping[str, Path],
    cfg: JobConfig,
    summary: Summary,
) -> Summary:
    """Write the output (every input row, in input order), the errors file and the summary."""
    rows = per_row(records, inputs)
    good = [r for r in rows if "error" not in r]
    bad = [r for r in rows if "error" in r]
    out = dpo_rows(good, cfg) if cfg.format == "dpo" else [output_row(r) for r in good]
    summary.written = write_rows(paths["out"], out)
    summary.error_rows = write_rows(paths["errors"], [error_row(r) for r in bad])
    summary.output = str(paths["out"])
    summary.errors_file = str(paths["errors"])
    _atomic_write(paths["summary"], json.dumps(summary.as_dict(), indent=1) + "\n")
    return summary


def all_records(path: str | Path) -> list[dict[str, Any]]:
    """Read an output JSONL back (for tests and scripts)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
