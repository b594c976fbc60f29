"""The data-set job against bare ``compare_batch`` on the same pairs (``scripts/bench_label.py``).

:class:`LabelBench` times, with one loaded judge: the whole ``grm.label`` job (read, content
ids, chunks, shards, merge, summary), ``compare_batch`` over exactly the job's chunks with the
job's seeds (the same engine passes without the job machinery), one ``compare_batch`` over all
pairs, and optionally the job on a local Ray with one actor (its own model load included).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def rate(pairs: int, chains: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 2),
        "pairs_per_s": round(pairs / seconds, 4),
        "chains_per_s": round(chains / seconds, 3),
    }


class LabelBench:
    """The rows written to a JSONL file, the judge loaded once and warmed up."""

    def __init__(self, rows: list[dict[str, Any]], engine: str, max_tokens: int, job: dict) -> None:
        from grm.benchmarks.data import label_rows
        from grm.jobs import JobConfig, ModelSpec
        from grm.jobs.runner import plan
        from grm.jobs.tasks import LabelTask

        self.rows, self.job = rows, job
        self.out: dict[str, Any] = {}
        self.work = Path(tempfile.mkdtemp(prefix="grm-bench-label-"))
        self.src = self.work / "pairs.jsonl"
        self.src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.spec = ModelSpec(engine=engine, judge={"max_tokens": max_tokens})
        t = time.perf_counter()
        self.rm = self.spec.load()
        self.load_s = time.perf_counter() - t
        self.rm.compare_batch(label_rows(2, job["seed"] + 1), k=2, max_tokens=8)  # warm-up
        _, self.by_chunk, _ = plan(LabelTask(), rows, JobConfig(**job).batch_size)

    def measure(self, name: str, pairs: int, chains: int, seconds: float) -> None:
        """Keep a figure and log it as soon as it is measured (a long run keeps what it has)."""
        self.out[name] = rate(pairs, chains, seconds)
        logger.info("%s", json.dumps({name: self.out[name]}))

    def same_chunks(self, name: str = "compare_batch_same_chunks") -> None:
        from grm.jobs.ids import chunk_seed
        from grm.jobs.rows import pair_request

        t, chains = time.perf_counter(), 0
        for chunk, pairs in sorted(self.by_chunk.items()):
            reqs = sorted(((rid, pair_request(r)) for rid, r in pairs), key=lambda p: p[0])
            seed = chunk_seed(self.job["seed"], chunk)
            res = self.rm.compare_batch([q for _, q in reqs], self.job["k"], seed=seed)
            chains += sum(r.k_used for r in res)
        self.measure(name, len(self.rows), chains, time.perf_counter() - t)

    def label_job(self) -> Any:
        import grm

        summary = grm.label(self.src, self.work / "labels.jsonl", rm=self.rm, **self.job)
        self.measure("job", summary.judged, summary.chains, summary.seconds)
        self.out["job_judging_only"] = rate(summary.judged, summary.chains, summary.judge_seconds)
        return summary

    def one_call(self) -> None:
        t = time.perf_counter()
        res = self.rm.compare_batch(self.rows, self.job["k"], seed=self.job["seed"])
        chains = sum(r.k_used for r in res)
        self.measure("compare_batch_one_call", len(self.rows), chains, time.perf_counter() - t)

    def ray_job(self, job_seconds: float) -> None:
        """The job as a Ray Data pipeline, one actor; whether it gives the same verdicts."""
        import ray

        import grm

        ray.init(num_cpus=2, log_to_driver=False)
        t = time.perf_counter()
        s = grm.label(
            self.src, self.work / "ray.jsonl", model=self.spec, ray={"actors": 1}, **self.job
        )
        wall = time.perf_counter() - t
        ray.shutdown()
        self.out["ray_one_actor"] = rate(s.judged, s.chains, wall)
        self.out["ray_overhead_s"] = round(wall - (job_seconds + self.load_s), 1)
        verdicts = [
            [json.loads(x)["grm_verdict"] for x in (self.work / name).open()]
            for name in ("ray.jsonl", "labels.jsonl")
        ]
        self.out["ray_same_verdicts"] = verdicts[0] == verdicts[1]
