"""Data rows in every common shape -> what a judge takes, in one place.

:mod:`grm.rows.shapes` holds the shape registry and :func:`read_row` (RewardBench, JudgeBench,
HH-RLHF transcripts, TRL pairs, pointwise groups, grm's own rows, a/b dicts);
:mod:`grm.rows.transcripts` reads HH-RLHF dialogues; :mod:`grm.rows.read` reads files line by
line without stopping at a bad one. ``RewardModel``, ``grm eval``, ``grm label`` / ``grm rank``
and ``grm train`` all read rows through here.
"""

from grm.rows.read import jsonl_records, parse_line, read_numbered, read_rows, to_plain
from grm.rows.shapes import (
    BAD_LINE,
    FORMATS,
    GROUP_FIELDS,
    SHAPES,
    RowError,
    RowItem,
    Shape,
    check_format,
    detect_shape,
    place,
    read_row,
)

__all__ = [
    "BAD_LINE",
    "FORMATS",
    "GROUP_FIELDS",
    "SHAPES",
    "RowError",
    "RowItem",
    "Shape",
    "check_format",
    "detect_shape",
    "jsonl_records",
    "parse_line",
    "place",
    "read_numbered",
    "read_row",
    "read_rows",
    "to_plain",
]
