"""Data-set jobs: label pairs (preference data, DPO sets) and rank groups (best-of-n).

>>> summary = grm.label("pairs.jsonl", "labels.jsonl", k=8)            # doctest: +SKIP
>>> summary = grm.label("pairs.jsonl", "dpo.jsonl", format="dpo",      # doctest: +SKIP
...                     min_confidence=0.75)
>>> summary = grm.rank_dataset("samples.jsonl", "best.jsonl", method="knockout")  # doctest: +SKIP

Output is written as it goes, one shard per chunk of rows keyed by stable row ids, so a
killed job run again with the same arguments judges only what is missing; rows that fail go
to ``OUT.errors.jsonl`` with the reason; ``OUT.summary.json`` holds the counts. ``ray=``
(``{"address": ..., "actors": 4, "gpus_per_actor": 1}``) runs the same job on Ray Data.
The CLI (``grm label`` / ``grm rank``) calls these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grm.jobs.config import JobConfig, ModelSpec
from grm.jobs.output import Summary
from grm.jobs.runner import run_job


def _run(
    task: str,
    source: str | Path,
    out: str | Path,
    rm: Any | None,
    model: ModelSpec | str | None,
    ray: dict[str, Any] | bool | None,
    split: str,
    job: dict[str, Any],
) -> Summary:
    spec = model if isinstance(model, ModelSpec) else None
    if rm is None and spec is None:
        spec = ModelSpec(model=model)  # type: ignore[arg-type]
    options = {} if ray is True else (ray or None)
    if options is not None and rm is not None and spec is None:
        raise ValueError(
            "ray=... loads a judge in every actor: pass model=ModelSpec(...) instead of rm."
        )
    return run_job(task, source, out, JobConfig(**job), spec, rm, split, options)


def label(
    source: str | Path,
    out: str | Path,
    rm: Any | None = None,
    model: ModelSpec | str | None = None,
    ray: dict[str, Any] | bool | None = None,
    split: str = "train",
    **job: Any,
) -> Summary:
    """Label every pair of ``source`` into ``out`` (.jsonl or .parquet).

    ``rm`` is a loaded :class:`grm.RewardModel`; otherwise ``model`` (a checkpoint path or
    a :class:`ModelSpec`) is loaded (None: the embedded model). Other keywords are
    :class:`JobConfig` fields: ``k``, ``budget``, ``batch_size``, ``seed``, ``chains``,
    ``feedback``, ``format`` ('rows' or 'dpo'), ``min_confidence``, ``ties``,
    ``judge_options``, ... Returns the run's :class:`Summary`.
    """
    return _run("label", source, out, rm, model, ray, split, job)


def rank_dataset(
    source: str | Path,
    out: str | Path,
    rm: Any | None = None,
    model: ModelSpec | str | None = None,
    ray: dict[str, Any] | bool | None = None,
    split: str = "train",
    **job: Any,
) -> Summary:
    """Rank the candidates of every row (``prompt`` + ``responses``) of ``source``.

    Each output row gains ``grm_order`` (best first), ``grm_scores``, ``grm_win_rate``,
    ``grm_best`` and ``grm_best_response``. ``method`` is 'pointwise', 'knockout' or
    'round_robin'; other keywords as for :func:`label`.
    """
    return _run("rank", source, out, rm, model, ray, split, job)


__all__ = ["JobConfig", "ModelSpec", "Summary", "label", "rank_dataset"]
