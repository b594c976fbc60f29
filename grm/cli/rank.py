"""``grm rank``: rank the candidates of every row (best-of-n, rejection sampling).

    grm rank samples.jsonl --out ranked.jsonl --method knockout --k 4
    grm rank samples.parquet --out ranked.parquet --method round_robin --ray --actors 4

Rows hold ``prompt`` and ``responses`` (or ``candidates`` / ``completions``), a list of n
candidates; each output row adds ``grm_order`` (best first), ``grm_scores``,
``grm_win_rate``, ``grm_best`` and ``grm_best_response``. Resumable like ``grm label``.
"""

from __future__ import annotations

from typing import Any

from grm.cli.label import add_job_args, run
from grm.ranking import method_names


def add_parser(sub: Any) -> None:
    p = sub.add_parser("rank", help="rank n candidates per row of a data set (best-of-n)")
    add_job_args(p)
    p.add_argument("--method", default="knockout", choices=method_names())
    p.set_defaults(func=lambda args: run(args, "rank"))
