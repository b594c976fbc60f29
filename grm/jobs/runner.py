"""Run a job on one machine: read, plan chunks, judge what is not done, write as it goes.

Each chunk is one batched judge call and one shard; a restarted job skips the finished ids.
:func:`run_job` is the one entry point: the CLI, ``grm.label`` / ``grm.rank_dataset`` and
the Ray path (``ray=True``, see :mod:`grm.jobs.ray_job`) all go through it.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grm.jobs.config import JobConfig, ModelSpec
from grm.jobs.ids import chunk_of, n_chunks
from grm.jobs.output import Summary, finalize, record_chains, summarize
from grm.jobs.rows import format_of
from grm.jobs.shards import ShardStore, job_paths
from grm.jobs.tasks import Task, get_task, judge_chunk, keyed
from grm.progress import ChainProgress
from grm.rows import read_numbered

logger = logging.getLogger(__name__)


def settings(task: str, cfg: JobConfig, spec: ModelSpec | None, rm: Any | None) -> dict[str, Any]:
    """The job's fingerprint: the settings and the judge defaults that shape a row's output."""
    from grm.config import JudgeConfig

    if rm is not None:
        model, template, judge = rm.model_path, rm.template.name, rm.config
    else:
        assert spec is not None
        model, template, judge = spec.model, spec.template, JudgeConfig(**spec.judge)
    out = cfg.fingerprint(task, None if model is None else str(model), template)
    out["judge"] = {
        "max_tokens": judge.max_tokens,
        "temperature": judge.temperature,
        "on_unparsed": judge.on_unparsed,
        "aggregator": judge.aggregator,
        "overlong": judge.overlong,
    }
    return out


def plan(
    task: Task, rows: Sequence[Mapping[str, Any]], batch_size: int
) -> tuple[list[str], dict[int, list[tuple[str, Mapping[str, Any]]]], int]:
    """Ids in input order, (id, row) by chunk (one row per distinct id), the chunk count."""
    ids = [keyed(task, r)[0] for r in rows]
    distinct: dict[str, Mapping[str, Any]] = {}
    for rid, row in zip(ids, rows, strict=True):
        distinct.setdefault(rid, row)
    chunks = n_chunks(len(distinct), batch_size)
    by_chunk: dict[int, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
    for rid, row in distinct.items():
        by_chunk[chunk_of(rid, chunks)].append((rid, row))
    return ids, dict(by_chunk), chunks


def run_job(
    task_name: str,
    source: str | Path,
    out: str | Path,
    cfg: JobConfig,
    spec: ModelSpec | None = None,
    rm: Any | None = None,
    split: str = "train",
    ray: Mapping[str, Any] | None = None,
) -> Summary:
    """Judge every row of ``source`` into ``out``; see :func:`grm.jobs.label`."""
    task = get_task(task_name, cfg.data_format)
    if task_name == "rank" and cfg.format == "dpo":
        raise ValueError("format='dpo' is for labelled pairs (grm label); grm rank writes rows.")
    paths = job_paths(out)
    format_of(paths["out"])  # fail on a bad output name before any work
    store = ShardStore(paths["parts"])
    if ray is not None:
        from grm.jobs.ray_job import run_ray

        if spec is None:
            raise ValueError("the Ray path loads the judge in every actor: pass a ModelSpec.")
        return run_ray(
            task, source, paths, store, cfg, spec, settings(task_name, cfg, spec, None), ray, split
        )
    store.check_settings(settings(task_name, cfg, spec, rm))
    start = time.perf_counter()
    numbered = read_numbered(source, split)
    rows = [row for _, row in numbered]
    ids, by_chunk, chunks = plan(task, rows, cfg.batch_size)
    finished = store.finished(cfg.retry_errors)
    todo = {
        c: [row for rid, row in pairs if rid not in finished]
        for c, pairs in sorted(by_chunk.items())
    }
    todo = {c: rs for c, rs in todo.items() if rs}
    left = sum(len(rs) for rs in todo.values())
    items = len(set(ids))
    skipped = items - left
    logger.info(
        "%d rows, %d distinct, %d chunks; %d done before, %d to judge",
        len(rows),
        items,
        chunks,
        skipped,
        left,
    )
    owned = rm is None
    if owned and left:
        assert spec is not None
        rm = spec.load()
    new: list[dict[str, Any]] = []
    loaded = time.perf_counter()
    try:
        with ChainProgress(left, f"grm {task_name}", "row", cfg.progress) as bar:
            for chunk, chunk_rows in todo.items():
                records = judge_chunk(rm, task, chunk, chunk_rows, cfg, items)
                store.write(chunk, records)
                new.extend(records)
                bar.update(len(chunk_rows), chains=sum(map(record_chains, records)))
    finally:
        if owned and rm is not None:
            rm.close()
    end = time.perf_counter()
    done = store.finished()
    summary = summarize(
        task_name, len(rows), items, skipped, new, len(done), end - start, end - loaded
    )
    inputs = [(line, row, rid) for (line, row), rid in zip(numbered, ids, strict=True)]
    return finalize(done, inputs, paths, cfg, summary)
