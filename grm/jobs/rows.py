"""Reading and writing data-set rows, and turning a row into what the judge takes.

Inputs: a JSONL / JSON file, a Parquet file (pyarrow, which ``datasets`` brings), or a
``datasets`` dataset saved with ``save_to_disk``. Row shapes:

- pairs, RewardBench: ``prompt``, ``chosen``, ``rejected`` (response A is ``chosen``);
- pairs, JudgeBench: ``question``, ``response_A``, ``response_B`` (``label`` is kept as data);
- pairs or groups: ``prompt`` and ``responses`` (also ``candidates`` / ``completions``);
- an optional ``reference`` answer in any shape.

Prompts and responses may be chat message lists (TRL's conversational format).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from grm.ranking import RankItem
from grm.types import JudgeRequest

#: Columns that may hold a group of candidates, in the order they are looked for.
GROUP_FIELDS = ("responses", "candidates", "completions")


def read_rows(source: str | Path, split: str = "train") -> list[dict[str, Any]]:
    """Every row of ``source`` as a plain dict (JSONL, JSON, Parquet or a saved dataset)."""
    path = Path(source)
    if path.is_file() and path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return [to_plain(r) for r in pq.read_table(path).to_pylist()]
    if not path.exists():
        raise FileNotFoundError(
            f"input {source} does not exist; pass a JSONL, JSON or Parquet file or a directory "
            "written by datasets' save_to_disk."
        )
    from grm.evaluation import read_rows as read_json_or_dataset

    return [to_plain(r) for r in read_json_or_dataset(path, split)]


def to_plain(value: Any) -> Any:
    """Plain Python values: numpy arrays and scalars (Arrow/pandas batches) become lists and
    numbers, so a row hashes and serialises the same however it was read."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__ == "numpy":
        return to_plain(tolist())
    return value


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


def _field(row: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if row.get(name) is not None:
            return row[name]
    return None


def pair_request(row: Mapping[str, Any]) -> JudgeRequest:
    """The pair a row asks to judge; response A is the first of the pair as stored."""
    prompt = _field(row, "prompt", "question")
    if "chosen" in row or "rejected" in row:
        pair = [row.get("chosen"), row.get("rejected")]
        names = "chosen/rejected"
    elif "response_A" in row or "response_B" in row:
        pair = [row.get("response_A"), row.get("response_B")]
        names = "response_A/response_B"
    else:
        group = _field(row, *GROUP_FIELDS)
        if group is None:
            raise ValueError(
                f"the row has keys {sorted(row)}; a pair needs prompt/chosen/rejected "
                "(RewardBench), question/response_A/response_B (JudgeBench) or prompt/responses."
            )
        if not isinstance(group, list) or len(group) != 2:
            raise ValueError(
                f"'responses' must hold exactly 2 responses for labelling, got "
                f"{len(group) if isinstance(group, list) else type(group).__name__}; "
                "use grm rank for groups of n."
            )
        pair = list(group)
        names = "responses"
    if prompt is None:
        raise ValueError(f"the row has no 'prompt' (or 'question'); keys: {sorted(row)}.")
    slots = names.split("/") if "/" in names else ["responses[0]", "responses[1]"]
    both: list[Any] = []
    for slot, value in zip(slots, pair, strict=True):
        if value is None:
            raise ValueError(f"the row's '{slot}' is missing or null; the pair needs both sides.")
        if not isinstance(value, (str, list)):
            raise ValueError(
                f"the row's '{slot}' is a {type(value).__name__} ({value!r}); a response must be "
                "text or a list of chat messages (write numbers as strings)."
            )
        both.append(value)
    return JudgeRequest(prompt, tuple(both), _field(row, "reference"))


def rank_item(row: Mapping[str, Any]) -> RankItem:
    """The group of candidates a row asks to rank."""
    prompt = _field(row, "prompt", "question")
    group = _field(row, *GROUP_FIELDS)
    if prompt is None or group is None:
        raise ValueError(
            f"the row has keys {sorted(row)}; ranking needs 'prompt' and 'responses' "
            "(or 'candidates' / 'completions'), a list of candidates."
        )
    if not isinstance(group, list) or len(group) < 2:
        raise ValueError(
            "'responses' must be a list of at least 2 candidates to rank, got "
            f"{len(group) if isinstance(group, list) else type(group).__name__}."
        )
    return RankItem(prompt, tuple(group), _field(row, "reference"))
