"""A trainer's ground truth (a dataset label) as the judge's reference text, the same on every
face: OpenRLHF's ``/get_reward`` labels (any JSON type), verl's ``ground_truth`` (numpy
arrays with ``dtype=object``, numpy scalars, dicts and lists from Parquet columns).

Strings stay as they are; everything else becomes JSON, numpy values first turned into plain
Python ones, so ``np.array(['42', 'forty-two'], dtype=object)`` reads ``["42", "forty-two"]``
and not ``['42' 'forty-two']`` (numpy's repr).
"""

from __future__ import annotations

import json
from typing import Any


def plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars (anything with ``tolist``) made plain Python,
    recursively through dicts, lists and tuples.

    >>> import numpy as np
    >>> plain({"a": np.array([1, 2]), "b": (np.float64(0.5),)})
    {'a': [1, 2], 'b': [0.5]}
    """
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy (np.float64 is a float)
        return plain(value.tolist())
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def label_text(label: Any) -> str | None:
    """A dataset label as reference text: strings as they are, numbers and structures as
    JSON; None or an empty string means no reference.

    >>> import numpy as np
    >>> label_text(3), label_text(0.5), label_text("42"), label_text(None), label_text([1, 2])
    ('3', '0.5', '42', None, '[1, 2]')
    >>> label_text(np.array(["42", "forty-two"], dtype=object)), label_text(np.int64(7))
    ('["42", "forty-two"]', '7')
    """
    value = plain(label)
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace") or None
    return json.dumps(value, ensure_ascii=False, default=str)
