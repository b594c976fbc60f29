"""Stable row ids and the rows-to-chunks plan (pure functions).

A row's id is a hash of what is judged (prompt, responses, reference), not of its position,
so the output of a job is keyed the same however the input was read, split or reordered,
and a restarted job can tell finished rows from new ones. Rows with identical content share
an id: they are one item, judged once.

Rows go to chunks by id (``chunk = id mod n_chunks``), so every path (one machine, a Ray
actor pool) forms exactly the same chunks from the same rows; a chunk is judged as one batch
with a seed derived from its index, so the same seed gives the same verdicts everywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from grm.types import prompt_text

#: Hex characters of the SHA-256 kept as the id (80 bits: collisions need ~10^12 rows).
ID_CHARS = 20


def content_id(prompt: Any, responses: Any, reference: str | None = None) -> str:
    """The id of an item from its judged content.

    >>> content_id("2+2?", ["4", "5"]) == content_id("2+2?", ("4", "5"))
    True
    >>> content_id("2+2?", ["4", "5"]) == content_id("2+2?", ["5", "4"])
    False
    """
    text = prompt_text(prompt) if isinstance(prompt, (str, list, tuple)) else str(prompt)
    payload = json.dumps([text, list(responses), reference], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:ID_CHARS]


def row_ids(item_ids: Sequence[str]) -> list[str]:
    """Each input row's own id: its item's id, with ``-2``, ``-3``, ... for the second, third,
    ... row of the same item in input order (stable for the same input).

    >>> row_ids(["a", "b", "a", "a"])
    ['a', 'b', 'a-2', 'a-3']
    """
    seen: Counter[str] = Counter()
    out = []
    for item in item_ids:
        seen[item] += 1
        out.append(item if seen[item] == 1 else f"{item}-{seen[item]}")
    return out


def raw_id(row: Mapping[str, Any]) -> str:
    """The id of a row that cannot be read as an item: a hash of the whole row."""
    payload = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return "x" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[: ID_CHARS - 1]


def n_chunks(n_rows: int, batch_size: int) -> int:
    """How many chunks ``n_rows`` rows form at ``batch_size`` rows per chunk on average."""
    return max(1, math.ceil(n_rows / batch_size))


def chunk_of(row_id: str, chunks: int) -> int:
    """The chunk a row belongs to.

    >>> chunk_of("00000000000000000005", 4)
    3
    """
    return int(hashlib.sha256(row_id.encode()).hexdigest()[:12], 16) % chunks


def chunk_seed(seed: int, chunk: int) -> int:
    """The judge's seed for one chunk: distinct per chunk, fixed by the job's seed.

    >>> chunk_seed(0, 3) == chunk_seed(0, 3), chunk_seed(0, 3) == chunk_seed(1, 3)
    (True, False)
    """
    digest = hashlib.sha256(f"{seed}:{chunk}".encode()).hexdigest()
    return int(digest[:8], 16)


def chunk_budget(budget: int | None, rows: int, total_rows: int) -> int | None:
    """A chunk's share of a job-wide chain budget, in proportion to its rows (floor, >= 1).

    >>> chunk_budget(1000, 10, 100), chunk_budget(None, 10, 100)
    (100, None)
    """
    if budget is None:
        return None
    return max(1, budget * rows // max(total_rows, 1))
