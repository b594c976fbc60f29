"""``grm label``: judge every pair of a data set; resumable, on one machine or Ray.

    grm label pairs.jsonl --out labels.jsonl --k 8
    grm label pairs.jsonl --out dpo.jsonl --format dpo --min-confidence 0.75
    grm label pairs.parquet --out labels.parquet --k auto --budget 200000
    grm label pairs.jsonl --out labels.jsonl --ray --actors 8 --gpus-per-actor 1 --engine vllm
    grm label pairs.jsonl --out labels.jsonl --engine remote --url http://h1:8000 --url http://h2:8000

Rows: RewardBench (prompt/chosen/rejected), JudgeBench (question/response_A/response_B),
HH-RLHF transcripts (chosen/rejected dialogues) or prompt/responses (``--data-format`` names
the shape; see grm.rows); JSONL, Parquet or a saved ``datasets`` directory. A line that is
not a row goes to the errors file with its line number. Run the same command
again after a crash: finished rows are skipped. The shared flags below are used by
``grm rank`` too.
"""

from __future__ import annotations

import argparse
from typing import Any

from grm.cli.judge import add_judge_config_args, add_model_args
from grm.cli.options import add_progress_args, config_overrides, engine_options
from grm.config import JudgeConfig
from grm.jobs.config import ModelSpec
from grm.rows import FORMATS

#: JudgeConfig fields a job sets itself (per job or per chunk), not as judge options.
JOB_FIELDS = ("k", "max_k", "budget", "seed")


def parse_k(text: str) -> int | str:
    """``--k``: a positive integer, or 'auto' for adaptive k."""
    if text == "auto":
        return text
    try:
        k = int(text)
    except ValueError:
        msg = f"--k must be an integer or 'auto', got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"--k must be >= 1, got {k}")
    return k


def add_job_args(p: argparse.ArgumentParser) -> None:
    """Flags every data-set job takes: input, output, k, chunks, resume, Ray, engine."""
    p.add_argument("input", help="JSONL/JSON or Parquet file, or a saved datasets directory")
    p.add_argument("--out", required=True, help="output file (.jsonl or .parquet)")
    p.add_argument("--split", default="train", help="split of a saved DatasetDict")
    p.add_argument(
        "--data-format",
        default="auto",
        choices=FORMATS,
        help="input row shape (auto: told per row from its columns)",
    )
    p.add_argument("--k", type=parse_k, default=8, help="chains per comparison, or 'auto'")
    p.add_argument("--budget", type=int, default=None, help="--k auto: most chains in the job")
    p.add_argument("--max-k", type=int, default=None, help="--k auto: most chains per comparison")
    p.add_argument("--batch-size", type=int, default=16, help="rows per chunk (one engine pass)")
    p.add_argument("--chains", action="store_true", help="write every chain with each row")
    p.add_argument("--retry-errors", action="store_true", help="judge failed rows again")
    add_progress_args(p)
    p.add_argument("--url", action="append", default=[], help="--engine remote: a server (repeat)")
    p.add_argument("--seed", type=int, default=0, help="job seed (each chunk derives its own)")
    p.add_argument("--calibrator", default=None, help="apply this calibrator JSON file")
    ray = p.add_argument_group("Ray Data (pip install 'grm[ray]')")
    ray.add_argument("--ray", action="store_true", help="run as a Ray Data pipeline")
    ray.add_argument("--ray-address", default=None, help="join this Ray cluster (implies --ray)")
    ray.add_argument("--actors", type=int, default=1, help="actor pool size (one judge each)")
    ray.add_argument("--cpus-per-actor", type=float, default=1.0)
    ray.add_argument("--gpus-per-actor", type=float, default=0.0)
    add_model_args(p)
    add_judge_config_args(p, skip=JOB_FIELDS)


def add_parser(sub: Any) -> None:
    p = sub.add_parser("label", help="label every pair of a data set (resumable; DPO output; Ray)")
    add_job_args(p)
    p.add_argument("--format", default="rows", choices=["rows", "dpo"], help="output rows")
    p.add_argument("--min-confidence", type=float, default=0.0, help="--format dpo: filter")
    p.add_argument("--ties", default="drop", choices=["drop", "keep"], help="--format dpo")
    p.add_argument("--feedback", action="store_true", help="write the verdict's feedback")
    p.set_defaults(func=lambda args: run(args, "label"))


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The judge every worker loads, from the model and engine flags."""
    options = engine_options(args.engine_option)
    if args.url:
        if args.engine != "remote":
            raise ValueError("--url is for --engine remote; add --engine remote.")
        options["urls"] = list(args.url)
    return ModelSpec(
        model=args.model,
        engine=args.engine,
        template=args.template,
        engine_options=options,
        calibrator=args.calibrator,
        judge=config_overrides(args, JudgeConfig, skip=JOB_FIELDS),
    )


def run(args: argparse.Namespace, task: str) -> int:
    from grm.jobs import label, rank_dataset

    spec = model_spec(args)
    ray = None
    if args.ray or args.ray_address:
        ray = {
            "address": args.ray_address,
            "actors": args.actors,
            "cpus_per_actor": args.cpus_per_actor,
            "gpus_per_actor": args.gpus_per_actor,
        }
    job: dict[str, Any] = {
        "k": args.k,
        "budget": args.budget,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "chains": args.chains,
        "retry_errors": args.retry_errors,
        "progress": args.progress,
        "data_format": args.data_format,
        "judge_options": {"max_k": args.max_k} if args.max_k is not None else {},
    }
    if task == "label":
        job.update(
            format=args.format,
            min_confidence=args.min_confidence,
            ties=args.ties,
            feedback=args.feedback,
        )
        summary = label(args.input, args.out, model=spec, ray=ray, split=args.split, **job)
    else:
        job.update(method=args.method)
        summary = rank_dataset(args.input, args.out, model=spec, ray=ray, split=args.split, **job)
    for line in summary.lines():
        print(line)
    return 0
