"""Published judges in the formats their checkpoints were trained on.

One module per family; each template cites the original file its layout, verdict rule and
decoding defaults come from. The wording is grm's own; the structure (roles, delimiters,
names, tags, prefill, verdict marker, score range) is the original's. A user who wants the
original wording word for word loads it from a template file (see grm.templates.files).
"""

from grm.templates.published import (  # noqa: F401  (registers the templates)
    deepseek_grm,
    j1,
    judgelrm,
    prometheus,
    rm_r1,
    rrm,
)
from grm.templates.published.common import PairText, pair_text

__all__ = ["PairText", "pair_text"]
