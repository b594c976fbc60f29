"""Reading and writing a job's rows, and turning a row into what the judge takes.

Inputs: a JSONL / JSON file, a Parquet file (pyarrow, which ``datasets`` brings), or a
``datasets`` dataset saved with ``save_to_disk``, read by :mod:`grm.rows` (a line that is not
a JSON object becomes a record the job reports with its line number). Row shapes are
:mod:`grm.rows`'s (RewardBench, JudgeBench, HH-RLHF transcripts, prompt/chosen/rejected pairs,
prompt/responses groups); labelling keeps the stored order, so response A is ``chosen``, and
reads no label (JudgeBench's ``label`` stays in the row as data). Prompts and responses may
be chat message lists (TRL's conversational format).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from grm.ranking import RankItem
from grm.rows import RowError, read_row
from grm.types import JudgeRequest


def format_of(path: str | Path) -> str:
    """'parquet' or 'jsonl', from the file name."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    raise ValueError(
        f"output {path} must end in .jsonl or .parquet (got {suffix or 'no suffix'!r})."
    )


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write rows atomically (a temporary file renamed into place); returns the count."""
    path = Path(path)
    fmt = format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if fmt == "parquet":
            os.close(fd)
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), tmp)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(rows)


def pair_request(row: Mapping[str, Any], fmt: str = "auto") -> JudgeRequest:
    """The pair a row asks to judge; response A is the first of the pair as stored."""
    item = read_row(row, fmt)
    if len(item.responses) != 2:
        raise RowError(
            f"'responses' must hold exactly 2 responses for labelling, got "
            f"{len(item.responses)}; use grm rank for groups of n."
        )
    return item.request()


def rank_item(row: Mapping[str, Any], fmt: str = "auto") -> RankItem:
    """The group of candidates a row asks to rank."""
    item = read_row(row, fmt)
    if len(item.responses) < 2:
        raise RowError(
            f"'responses' must be a list of at least 2 candidates to rank, got "
            f"{len(item.responses)}."
        )
    return RankItem(item.prompt, item.texts(), item.reference)
