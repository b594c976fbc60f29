"""The job's working directory: one shard file per finished chunk, written atomically.

``OUT.parts/`` holds ``job.json`` (the settings that decide a row's output) and the shards,
each a JSONL file of records keyed by row id. A shard appears whole or not at all (written to
a temporary name, then renamed), so a job killed at any moment loses at most the chunks it
was judging; a restarted job reads the shards, skips every finished id and judges the rest.
Shards are order-independent: reading them in any order gives the same set of records.

Files that Ray Data writes (``ray-*/``) are read the same way; a line cut short by a kill is
skipped, and its row is judged again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The Ray path writes each record as a JSON string in this column (one Arrow type per
#: column whatever the rows hold).
RECORD_COLUMN = "grm_record"


def job_paths(out: str | Path) -> dict[str, Path]:
    """Where a job writes: the output, its parts directory, errors file and summary."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix else out
    return {
        "out": out,
        "parts": Path(str(out) + ".parts"),
        "errors": Path(str(stem) + ".errors.jsonl"),
        "summary": Path(str(stem) + ".summary.json"),
    }


class ShardStore:
    """The shards of one job, in ``parts``."""

    def __init__(self, parts: str | Path) -> None:
        self.parts = Path(parts)

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Record the job's settings, or refuse to mix shards made with other settings."""
        self.parts.mkdir(parents=True, exist_ok=True)
        path = self.parts / "job.json"
        wanted = json.loads(json.dumps(settings, sort_keys=True, default=str))
        if path.is_file():
            found = json.loads(path.read_text())
            diff = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            if diff:
                shown = ", ".join(f"{k}: {found.get(k)!r} -> {wanted.get(k)!r}" for k in diff)
                raise ValueError(
                    f"{self.parts} holds rows judged with other settings ({shown}); rerun with "
                    f"the same settings to resume, or delete {self.parts} to start over."
                )
            return
        _atomic_write(path, json.dumps(wanted, indent=1, sort_keys=True) + "\n")

    def write(self, chunk: int, records: Sequence[dict[str, Any]]) -> Path:
        """Write one chunk's records as a shard (atomic); the name holds its ids' hash, so a
        chunk judged in two parts (after a restart) keeps both."""
        ids = hashlib.sha256("".join(sorted(r["id"] for r in records)).encode()).hexdigest()
        path = self.parts / f"chunk-{chunk:06d}-{ids[:10]}.jsonl"
        body = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        _atomic_write(path, body)
        return path

    def files(self) -> list[Path]:
        if not self.parts.is_dir():
            return []
        return sorted(
            p
            for p in self.parts.rglob("*")
            if p.is_file()
            and p.suffix in (".jsonl", ".json")
            and p.name != "job.json"
            and not p.name.startswith(".")
        )

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record of every shard (a truncated last line is skipped)."""
        for path in self.files():
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        logger.warning("%s:%d is cut short; its row will be judged again", path, n)
                        continue
                    if RECORD_COLUMN in rec:
                        rec = json.loads(rec[RECORD_COLUMN])
                    yield rec

    def finished(self, retry_errors: bool = False) -> dict[str, dict[str, Any]]:
        """Records by id; a judged record wins over an error record of the same id.

        With ``retry_errors`` the rows that only have errors are left out (judged again).
        """
        out: dict[str, dict[str, Any]] = {}
        for rec in self.records():
            old = out.get(rec["id"])
            if old is None or ("error" in old and "error" not in rec):
                out[rec["id"]] = rec
        if retry_errors:
            out = {k: v for k, v in out.items() if "error" not in v}
        return out


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
