"""The same job as a Ray Data pipeline: an actor pool, one judge per actor.

Rows are read by Ray Data (``read_json`` / ``read_parquet``, or ``from_huggingface`` for a
saved ``datasets`` directory), keyed by the same content ids, grouped into the same chunks
(``groupby`` on the chunk index, then ``map_groups`` with a callable class: Ray runs it as
``map_batches`` over whole groups in an actor pool), judged by :func:`judge_chunk` (the
function the single-machine path runs) and written by Ray Data into ``OUT.parts/ray-*/``.
The driver then merges the parts exactly as on one machine, so the same seed gives the same
verdicts. Ray is optional: ``pip install 'grm[ray]'``.

Options: :class:`RayOptions` (``ray=`` takes its fields as a mapping).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grm.jobs.config import JobConfig, ModelSpec
from grm.jobs.ids import chunk_of, n_chunks
from grm.jobs.output import Summary, finalize, summarize
from grm.jobs.shards import RECORD_COLUMN, ShardStore
from grm.jobs.tasks import Task, get_task, judge_chunk, keyed
from grm.rows import jsonl_records, read_numbered, read_rows, to_plain

logger = logging.getLogger(__name__)

#: Rows that Ray gets from the driver travel as JSON strings in this column.
JSON_COLUMN = "grm_json"


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray Data job runs."""

    address: str | None = None
    """A Ray cluster to join ('auto', 'ray://head:10001'); None starts a local Ray."""
    actors: int = 1
    """Actors in the pool; each loads one judge."""
    cpus_per_actor: float = 1.0
    """CPUs Ray reserves per actor."""
    gpus_per_actor: float = 0.0
    """GPUs Ray reserves per actor (1 for a vLLM engine on a GPU)."""

    def __post_init__(self) -> None:
        if not isinstance(self.actors, int) or self.actors < 1:
            raise ValueError(f"actors must be an integer >= 1, got {self.actors!r}.")
        if self.cpus_per_actor <= 0:
            raise ValueError(f"cpus_per_actor must be > 0, got {self.cpus_per_actor}.")
        if self.gpus_per_actor < 0:
            raise ValueError(f"gpus_per_actor must be >= 0, got {self.gpus_per_actor}.")


def _require_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra)
    except ImportError:
        raise ImportError("the Ray path needs Ray Data: pip install 'grm[ray]'.") from None
    return ray


def key_rows(batch: Any, task: str, fmt: str = "auto") -> Any:
    """Ray Data UDF: each row's id and its plain JSON (one Arrow string column each).

    JSONL arrives as whole files (``read_binary_files``) and is split and parsed here by the
    reader the driver uses (:func:`grm.rows.jsonl_records`), so a bad line becomes the same
    error record on both sides: Ray's JSON reader infers column types through pandas (a
    response "32" becomes the integer 32) and its text reader also splits at U+2028.
    """
    import pyarrow as pa

    judge_task = get_task(task, fmt)
    if batch.column_names == ["bytes"]:
        rows = [r for blob in batch["bytes"].to_pylist() for _, r in jsonl_records(blob)]
    elif batch.column_names == [JSON_COLUMN]:
        rows = [json.loads(s) for s in batch[JSON_COLUMN].to_pylist()]
    else:
        rows = [to_plain(r) for r in batch.to_pylist()]
    return pa.table(
        {
            "grm_id": [keyed(judge_task, r)[0] for r in rows],
            "grm_input": [json.dumps(r, ensure_ascii=False) for r in rows],
        }
    )


def add_chunk(batch: Any, chunks: int, finished: frozenset[str]) -> Any:
    """Ray Data UDF: drop finished ids, add the chunk index."""
    import pyarrow as pa

    ids = batch["grm_id"].to_pylist()
    batch = batch.filter(pa.array([i not in finished for i in ids], pa.bool_()))
    chunk = [chunk_of(str(i), chunks) for i in batch["grm_id"].to_pylist()]
    return batch.append_column("grm_chunk", pa.array(chunk, pa.int64()))


class ChunkJudge:
    """Ray Data callable class: loads ONE judge per actor, then judges whole chunks."""

    def __init__(self, spec: ModelSpec, task: str, cfg: JobConfig, total: int) -> None:
        self.rm = spec.load()
        self.task = get_task(task, cfg.data_format)
        self.cfg = cfg
        self.total = total

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        chunk = int(batch["grm_chunk"][0].as_py())
        rows = [json.loads(s) for s in batch["grm_input"].to_pylist()]
        records = judge_chunk(self.rm, self.task, chunk, rows, self.cfg, self.total)
        return pa.table(
            {RECORD_COLUMN: [json.dumps(r, ensure_ascii=False, default=str) for r in records]}
        )


def read_dataset(ray: Any, source: str | Path, split: str) -> Any:
    """The input as a Ray dataset: Ray Data's own readers where one fits the file."""
    path = str(source)
    if path.endswith(".parquet"):
        return ray.data.read_parquet(path)
    if path.endswith((".jsonl", ".ndjson")):
        return ray.data.read_binary_files(path)  # split and parsed by key_rows, types kept
    if Path(path).is_dir():
        import datasets

        ds = datasets.load_from_disk(path)
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[split]
        return ray.data.from_huggingface(ds)
    # A JSON array file: each row as one JSON string, as Arrow would fill in the columns a
    # row lacks (None) and so change what the row holds.
    return ray.data.from_items([{JSON_COLUMN: json.dumps(r)} for r in read_rows(path, split)])


def run_ray(
    task: Task,
    source: str | Path,
    paths: Mapping[str, Path],
    store: ShardStore,
    cfg: JobConfig,
    spec: ModelSpec,
    settings: dict[str, Any],
    options: Mapping[str, Any],
    split: str = "train",
) -> Summary:
    """Run the job on Ray Data; the output matches the single-machine run's."""
    opts = RayOptions(**{k: v for k, v in options.items() if v is not None})
    ray = _require_ray()
    store.check_settings(settings)
    start = time.perf_counter()
    if not ray.is_initialized():
        ray.init(address=opts.address, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = cfg.progress is not False
    keyed_ds = (
        read_dataset(ray, source, split)
        .map_batches(key_rows, fn_args=(task.name, task.fmt), batch_format="pyarrow")
        .materialize()
    )
    ids = [r["grm_id"] for r in keyed_ds.select_columns(["grm_id"]).take_all()]
    inputs = None
    try:  # input order and one output row per input row, when the driver can read the input
        inputs = [(n, r, keyed(task, r)[0]) for n, r in read_numbered(source, split)]
        ids = [rid for _, _, rid in inputs]
    except (OSError, ValueError, ImportError):
        logger.info("the driver cannot read %s; the output is one row per item, by id", source)
    items = len(set(ids))
    chunks = n_chunks(items, cfg.batch_size)
    finished = store.finished(cfg.retry_errors)
    left = len(set(ids) - set(finished))
    run_dir = store.parts / f"ray-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**6:06d}"
    loaded = time.perf_counter()
    if left:
        todo = keyed_ds.map_batches(
            add_chunk, fn_args=(chunks, frozenset(finished)), batch_format="pyarrow"
        )
        # A few partitions per actor: each reduce task hands whole chunks to the pool.
        partitions = max(1, min(chunks, 4 * opts.actors))
        judged = todo.groupby("grm_chunk", num_partitions=partitions).map_groups(
            ChunkJudge,
            fn_constructor_args=(spec, task.name, cfg, items),
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=opts.actors),
            num_cpus=opts.cpus_per_actor,
            num_gpus=opts.gpus_per_actor,
        )
        judged.write_json(str(run_dir))
    end = time.perf_counter()
    new = list(ShardStore(run_dir).records()) if run_dir.is_dir() else []
    done = store.finished()
    summary = summarize(
        task.name, len(ids), items, items - left, new, len(done), end - start, end - loaded
    )
    return finalize(done, inputs, paths, cfg, summary)
