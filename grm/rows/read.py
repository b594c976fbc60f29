"""Reading data files into rows, without stopping at a bad line.

One reader for every face (``grm eval``, ``grm label`` / ``grm rank``, ``grm train``):
JSONL (``.jsonl`` / ``.ndjson`` / ``.json`` lines), a ``.json`` array, Parquet (pyarrow, which
``datasets`` brings), a ``datasets`` directory written by ``save_to_disk``, or rows in memory.
Each row comes with its place: the 1-based line of a JSONL file, the 1-based position
otherwise. A line that is not a JSON object (malformed JSON, not UTF-8, or valid JSON of
another type: ``"x"``, ``[1, 2]``, ``42``, ``null``) becomes a record ``{BAD_LINE: reason,
"text": line}`` so the caller reports it with its line number and goes on; the reason holds
no line number, so the same line gives the same record however the file was split up (the
Ray path reads files in its workers).

Lines are split on ``\\n`` only (JSON Lines): a U+2028 inside a JSON string is text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from grm.rows.shapes import BAD_LINE

Numbered = list[tuple[int, dict[str, Any]]]
_JSON_TYPES = {str: "string", list: "array", int: "number", float: "number", bool: "boolean"}
#: Characters of a bad line kept in its record (enough to find it; the line number finds it).
KEEP_CHARS = 500


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


def bad_line(reason: str, text: str) -> dict[str, Any]:
    """The record of an input line that is not a row; ``reason`` follows "line N"."""
    return {BAD_LINE: reason, "text": text[:KEEP_CHARS]}


def as_record(value: Any, text: str = "") -> dict[str, Any]:
    """A parsed value as a row, or the record of a line that is not one (a JSON object)."""
    if isinstance(value, Mapping):
        return to_plain(value)
    kind = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return bad_line(
        f"is a JSON {kind} ({shown}), not an object; each line must hold one row, "
        '{"prompt": ..., ...}',
        text or shown,
    )


def parse_line(raw: bytes | str) -> dict[str, Any]:
    """One JSONL line as a row, or a bad-line record saying what is wrong with it."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return bad_line(
                f"is not valid UTF-8 (byte {exc.start}); save the file as UTF-8",
                raw.decode("utf-8", "replace"),
            )
    else:
        text = raw
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return bad_line(f"is not valid JSON ({exc.msg}, column {exc.colno})", text)
    return as_record(value, text)


def jsonl_records(data: bytes) -> Numbered:
    """(line number, record) for every non-blank line of a JSONL file's bytes."""
    out = []
    for n, line in enumerate(data.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if line.strip():
            out.append((n, parse_line(line)))
    return out


def read_numbered(
    source: str | Path | Iterable[Any], split: str = "train", *, hub: bool = False
) -> Numbered:
    """(line or position, record) for every row of ``source``.

    ``hub``: a name that is not a path is loaded with ``datasets.load_dataset`` (evaluation
    reads published sets by name); otherwise a missing path is an error.
    """
    if not isinstance(source, (str, Path)):
        return [(n, as_record(r)) for n, r in enumerate(source, 1)]
    path = Path(source)
    if path.is_file():
        if path.suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return [(n, as_record(r)) for n, r in enumerate(pq.read_table(path).to_pylist(), 1)]
        data = path.read_bytes()
        if path.suffix == ".json" and data.lstrip().startswith(b"["):
            try:
                values = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); a .json file "
                    "holds one array of rows, or one row per line."
                ) from None
            return [(n, as_record(v)) for n, v in enumerate(values, 1)]
        return jsonl_records(data)
    if path.is_dir() or hub:
        return [(n, as_record(r)) for n, r in enumerate(_dataset(source, path, split), 1)]
    raise FileNotFoundError(
        f"input {source} does not exist; pass a JSONL, JSON or Parquet file or a directory "
        "written by datasets' save_to_disk."
    )


def read_rows(
    source: str | Path | Iterable[Any], split: str = "train", *, hub: bool = False
) -> list[dict[str, Any]]:
    """Every record of ``source`` (see :func:`read_numbered`), without the line numbers."""
    return [r for _, r in read_numbered(source, split, hub=hub)]


def _dataset(source: str | Path, path: Path, split: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise ImportError(
            f"{source} is not a file; reading a datasets dataset needs: pip install 'grm[train]'."
        ) from None
    if not path.is_dir():
        return datasets.load_dataset(str(source), split=split)
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise ValueError(
                f"{path} holds the splits {sorted(ds)}, not {split!r}; name one with --split "
                "(grm train reads 'train': save the split to use under that name)."
            )
        ds = ds[split]
    return ds
