"""A user's own preference data for ``grm train``: read, check, filter, split by prompt.

:mod:`grm.training.data` turns one well-formed row into grm's shape; this module takes a
whole file the way a user hands it over and never stops at the first bad row:

- :func:`read_records` reads JSONL (``.jsonl`` / ``.json`` lines, or a ``.json`` array),
  Parquet, or a ``datasets`` dataset saved with ``save_to_disk`` (:mod:`grm.rows`'s reader);
  a line that is not a JSON object becomes a record with its reason, reported with its line
  number like any other bad row.
- :func:`prepare` detects the shape once (:mod:`grm.rows`: RewardBench
  ``prompt/chosen/rejected``, HH-RLHF transcripts, JudgeBench
  ``question/response_A/response_B/label``, ``prompt/responses/preferred``, pointwise
  ``prompt/responses/scores``), then checks every row: missing fields, empty or non-text
  responses, bad labels, ties, transcripts that differ before their last reply, and judge
  prompts over the length limit are dropped, each with its reason; the rest are split into
  train / held-out **by prompt**, so no prompt is in both.
- :func:`split_by_prompt` is deterministic and needs no shuffle state: a prompt goes to the
  held-out side when a seeded SHA-256 of its text falls under ``heldout_fraction``, so adding
  rows never moves an existing prompt to the other side. The prompt is the conversation: two
  HH-RLHF pairs of one dialogue land on one side, whatever their last replies.
- :func:`grm.training.data_report.format_report` prints counts, length percentiles, label
  balance and every dropped row with its reason (``grm train CONFIG --check-data``).
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from grm.training.data import FORMATS, detect_format, to_row
from grm.training.data_report import DataReport, Dropped, prompt_key
from grm.training.tasks import TaskRow

from grm.rows import BAD_LINE, SHAPES, read_numbered, read_rows
from grm.templates import get_template
from grm.types import JudgeRequest

logger = logging.getLogger(__name__)

#: Columns each shape needs (``pairs`` may carry the prompt inside chosen/rejected messages).
REQUIRED: dict[str, tuple[str, ...]] = {name: shape.columns for name, shape in SHAPES.items()}

LengthFn = Callable[[str], int]


def read_records(source: str | Path | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every record of a JSONL / JSON / Parquet file, a saved ``datasets`` dataset (its
    'train' split) or rows in memory; a line that is not a JSON object comes back as a
    :data:`grm.rows.BAD_LINE` record, so a check reports it instead of failing on it."""
    return read_rows(source)


def infer_format(records: Sequence[dict[str, Any]], fmt: str = "auto") -> str:
    """The data's shape: ``fmt`` itself, or the shape most of the first 200 rows have."""
    if fmt not in FORMATS:
        raise ValueError(f"data_format must be one of {FORMATS}, got {fmt!r}.")
    if fmt != "auto":
        return fmt
    seen: Counter[str] = Counter()
    for rec in records[:200]:
        try:
            seen[detect_format(rec)] += 1
        except ValueError:
            continue
    if not seen:
        cols = sorted(records[0]) if records else []
        raise ValueError(
            f"cannot tell the data format from the columns {cols}; expected prompt/chosen/"
            "rejected, question/response_A/response_B/label, prompt/responses/preferred or "
            "prompt/responses/scores (or set data_format)."
        )
    return seen.most_common(1)[0][0]


def heldout_bucket(prompt: Any, seed: int = 0) -> float:
    """A prompt's place in [0, 1), from a seeded SHA-256 of its text (stable across runs).

    >>> heldout_bucket("What is 2 + 2?") == heldout_bucket("  What is 2 +  2? ")
    True
    >>> 0 <= heldout_bucket("x", seed=3) < 1
    True
    """
    digest = hashlib.sha256(f"{seed}\x00{prompt_key(prompt)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_prompt(
    rows: Sequence[TaskRow], heldout_fraction: float, seed: int = 0
) -> tuple[list[TaskRow], list[TaskRow]]:
    """(train, held-out): every row of a prompt lands on the same side.

    >>> rows = [{"prompt": p} for p in ["a", "b", "a", "c", "d", "b"]]
    >>> train, held = split_by_prompt(rows, 0.5, seed=1)
    >>> not {r["prompt"] for r in train} & {r["prompt"] for r in held}
    True
    """
    if not 0 <= heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}.")
    train: list[TaskRow] = []
    held: list[TaskRow] = []
    for row in rows:
        (held if heldout_bucket(row["prompt"], seed) < heldout_fraction else train).append(row)
    return train, held


def judge_prompt_text(row: TaskRow, template: str = "default") -> str:
    """The text of the judge prompt the trainer will see for ``row`` (its messages joined)."""
    req = JudgeRequest(row["prompt"], tuple(row["responses"]))
    messages = get_template(template).messages(req, tuple(range(len(row["responses"]))))
    return "\n".join(str(m.get("content", "")) for m in messages)


def _missing(rec: dict[str, Any], fmt: str) -> list[str]:
    need = [c for c in REQUIRED[fmt] if rec.get(c) is None]
    if fmt == "pointwise" and rec.get("scores") is None and rec.get("preferred") is None:
        need.append("scores or preferred")
    return need


def _non_text(rec: dict[str, Any], fmt: str) -> str | None:
    cols = {
        "judgebench": ("question", "response_A", "response_B"),
        "rewardbench": ("prompt", "chosen", "rejected"),
        "hh-rlhf": ("chosen", "rejected"),
    }.get(fmt, ())
    for c in cols:
        if not isinstance(rec.get(c), str):
            return f"field '{c}' is a {type(rec.get(c)).__name__}, not text"
    return None


def _label(rec: dict[str, Any], fmt: str, row: TaskRow) -> str:
    if fmt == "judgebench":
        return str(rec["label"]).replace(" ", "")
    if fmt in ("pairs", "rewardbench"):
        return "chosen/rejected"
    return f"best={row['preferred']} of {len(row['responses'])}"


def prepare(
    source: str | Path | Iterable[dict[str, Any]],
    fmt: str = "auto",
    *,
    heldout_fraction: float = 0.1,
    max_prompt_length: int | None = None,
    length: LengthFn | None = None,
    length_unit: str = "chars",
    template: str = "default",
    seed: int = 0,
) -> DataReport:
    """Read, check, length-filter and split ``source``; never raises on a bad row.

    ``length`` measures a judge prompt (characters when None; pass a tokenizer's count for
    tokens); rows whose judge prompt exceeds ``max_prompt_length`` are dropped as too long.
    """
    numbered = read_numbered(source)
    records = [rec for _, rec in numbered]
    name = str(source) if isinstance(source, str | Path) else "<rows>"
    good = [r for r in records if BAD_LINE not in r]
    shape = infer_format(good, fmt) if good else (fmt if fmt != "auto" else "unknown")
    measure = length or len
    report = DataReport(
        name, shape, len(records), length_unit=length_unit, max_prompt_length=max_prompt_length
    )
    rng = random.Random(seed)
    kept: list[TaskRow] = []
    for i, (line, rec) in enumerate(numbered):
        dropped = _check(i, line, rec, shape)
        if dropped is not None:
            report.dropped.append(dropped)
            continue
        try:
            row = to_row(dict(rec), shape, rng, i)
            n = measure(judge_prompt_text(row, template))
        except (ValueError, TypeError, KeyError) as exc:
            msg = str(exc)
            kind = getattr(exc, "kind", "invalid")
            report.dropped.append(
                Dropped(i, msg if msg.startswith("row") else f"row {i}: {msg}", kind)
            )
            continue
        if max_prompt_length is not None and n > max_prompt_length:
            report.dropped.append(
                Dropped(
                    i,
                    f"row {i}: the judge prompt is {n} {length_unit}, over max_prompt_length="
                    f"{max_prompt_length}; raise max_prompt_length or shorten the item.",
                    "too_long",
                )
            )
            continue
        row["source_index"] = i
        kept.append(row)
        report.lengths.append(n)
        report.labels[_label(rec, shape, row)] += 1
    report.train, report.heldout = split_by_prompt(kept, heldout_fraction, seed)
    return report


def _check(i: int, line: int, rec: dict[str, Any], shape: str) -> Dropped | None:
    if BAD_LINE in rec:
        return Dropped(i, f"row {i}: line {line} {rec[BAD_LINE]}", "invalid")
    if shape not in REQUIRED:
        return Dropped(i, f"row {i}: the data format could not be detected", "invalid")
    missing = _missing(rec, shape)
    if missing:
        return Dropped(
            i,
            f"row {i}: missing field(s) {', '.join(repr(m) for m in missing)} for the "
            f"{shape} format (columns present: {sorted(rec)}).",
            "missing_field",
        )
    bad_type = _non_text(rec, shape)
    if bad_type:
        return Dropped(i, f"row {i}: {bad_type}.", "invalid")
    if shape == "judgebench":
        label = str(rec["label"]).replace(" ", "")
        if label in ("A=B", "tie"):
            return Dropped(
                i, f"row {i}: label {rec['label']!r} is a tie; ties cannot be scored.", "tie"
            )
        if label not in ("A>B", "B>A"):
            return Dropped(
                i, f"row {i}: label must be 'A>B' or 'B>A', got {rec['label']!r}.", "bad_label"
            )
    return None


def token_counter(tokenizer: Any) -> LengthFn:
    """Tokens of a text as the trainer counts them (no special tokens added)."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def load_tokenizer(model: str | None) -> Any:
    """The tokenizer of the run's model (no weights are loaded); None when unavailable."""
    from grm.training.common import resolve_model

    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(resolve_model(model))
    except (OSError, ValueError, ImportError) as exc:
        logger.warning("no tokenizer for %s (%s); lengths are counted in characters", model, exc)
        return None


def prepare_for(cfg: Any, tokenizer: Any = None) -> DataReport:
    """:func:`prepare` with a :class:`~grm.training.config.TrainConfig`'s settings.

    Lengths are in tokens of ``tokenizer`` (the run's model's, loaded without weights when
    None); where no tokenizer can be had, in characters, and ``max_prompt_length`` is then
    applied to characters x 4 (a rough token count, said in the report).
    """
    if cfg.data is None:
        raise ValueError("the config has no 'data'; set data: path/to/prefs.jsonl.")
    tok = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
    limit = cfg.max_prompt_length
    if tok is None:
        unit, length = "chars", None
        limit = None if limit is None else limit * 4
    else:
        unit, length = "tokens", token_counter(tok)
    return prepare(
        cfg.data,
        cfg.data_format,
        heldout_fraction=cfg.heldout_fraction,
        max_prompt_length=limit,
        length=length,
        length_unit=unit,
        template=cfg.template,
        seed=cfg.seed,
    )
