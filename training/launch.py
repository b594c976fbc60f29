"""What a run would do, without training: the resolved TRL and accelerate configuration.

``grm train CONFIG --dry-run`` builds the very ``trl.SFTConfig`` / ``trl.GRPOConfig`` objects
the trainers would get (grm's defaults, then the YAML sections) in the current process, so
under ``accelerate launch`` they see the real world size and device; it also reads the
``accelerate`` config file with accelerate's own loader and checks its DeepSpeed / FSDP
options against ``accelerate launch``'s own flags. Nothing here loads a model.

The accelerate files under ``training/configs/accelerate/`` (DDP, DeepSpeed ZeRO-2 / ZeRO-3,
FSDP2) are the documented starting points; any file ``accelerate config`` writes works too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grm.training.config import TrainConfig

#: The accelerate config files grm ships (DDP, DeepSpeed ZeRO-2/3, FSDP2).
ACCELERATE_CONFIGS = Path(__file__).resolve().parent / "configs" / "accelerate"

_DISTRIBUTED = {"NO", "MULTI_CPU", "MULTI_GPU", "DEEPSPEED", "FSDP"}


def _launch_flags() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return {a.dest for a in launch_command_parser()._actions}


def read_accelerate_config(path: str | Path) -> dict[str, Any]:
    """An accelerate config file, loaded and validated by accelerate, as a plain dict.

    Raises ValueError naming the key when a DeepSpeed / FSDP option is not one that
    ``accelerate launch`` knows, or when the distributed type is not a training one.
    """
    from accelerate.commands.config.config_args import load_config_from_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"accelerate config {path} does not exist; see {ACCELERATE_CONFIGS} for examples."
        )
    cfg = load_config_from_file(str(path))  # raises on unknown top-level keys
    out = {k: (v.value if hasattr(v, "value") else v) for k, v in cfg.to_dict().items()}
    kind = str(out.get("distributed_type"))
    if kind not in _DISTRIBUTED:
        raise ValueError(
            f"{path}: distributed_type {kind!r} is not one grm trains with; use one of "
            f"{sorted(_DISTRIBUTED)}."
        )
    flags = _launch_flags()
    if kind == "DEEPSPEED":
        ds = out.get("deepspeed_config") or {}
        if ds.get("zero_stage") not in (0, 1, 2, 3):
            raise ValueError(
                f"{path}: deepspeed_config.zero_stage must be 0-3, got {ds.get('zero_stage')!r}."
            )
        unknown = sorted(k for k in ds if k not in flags)
        if unknown:
            raise ValueError(f"{path}: deepspeed_config keys {unknown} are not accelerate options.")
    if kind == "FSDP":
        fsdp = out.get("fsdp_config") or {}
        unknown = sorted(
            k for k in fsdp if (k if k.startswith("fsdp_") else f"fsdp_{k}") not in flags
        )
        if unknown:
            raise ValueError(f"{path}: fsdp_config keys {unknown} are not accelerate options.")
    return out


def launch_env() -> dict[str, str]:
    """The distributed environment this process was started with (empty when plain)."""
    keys = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith("ACCELERATE_") or k in keys}


def stage_args(cfg: TrainConfig, stage: str) -> Any:
    """The TRL config object the stage's trainer would get."""
    if stage == "sft":
        from grm.training.sft import sft_args

        return sft_args(cfg)
    if stage == "rft" and cfg.rft.objective == "dpo":
        from grm.training.rft_dpo import dpo_args

        return dpo_args(cfg, 0, Path(cfg.output_dir) / "rft" / "round-0" / "checkpoints")
    if stage == "rft":
        from grm.training.rft import rft_args

        return rft_args(cfg)
    from grm.training.grpo import grpo_args

    return grpo_args(cfg)


def _generation(args: Any) -> str:
    if not args.use_vllm:
        return "transformers generate"
    if args.vllm_mode != "server":
        return f"vLLM {args.vllm_mode}"
    where = args.vllm_server_base_url or f"{args.vllm_server_host}:{args.vllm_server_port}"
    return f"vLLM server at {where} (start it with `trl vllm-serve --model ...`)"


def grpo_shape(args: Any, world: int | None = None) -> dict[str, Any]:
    """Batch arithmetic of a ``GRPOConfig`` on ``world`` processes (default: this launch).

    Raises ValueError when TRL would: a generation batch that does not hold whole groups of
    ``num_generations`` completions.
    """
    world = int(args.world_size if world is None else world)
    steps = int(args.steps_per_generation)
    gen_batch = args.per_device_train_batch_size * world * steps
    if gen_batch % args.num_generations:
        raise ValueError(
            f"on {world} processes the generation batch is per_device_train_batch_size "
            f"{args.per_device_train_batch_size} x {world} x steps_per_generation {steps} = "
            f"{gen_batch}, not a multiple of num_generations {args.num_generations}; change one "
            "of them."
        )
    return {
        "world_size": world,
        "completions_per_optimizer_step": args.per_device_train_batch_size
        * world
        * args.gradient_accumulation_steps,
        "generation_batch_size": gen_batch,
        "prompts_per_generation": gen_batch // args.num_generations,
        "optimizer_steps_per_generation": steps // args.gradient_accumulation_steps,
        "num_generations": args.num_generations,
        "generation": _generation(args),
        "kl_beta": args.beta,
        "learning_rate": args.learning_rate,
    }


def resolved(
    cfg: TrainConfig,
    accelerate_config: str | Path | None = None,
    num_processes: int | None = None,
) -> dict[str, Any]:
    """Everything a dry run prints: grm's config, each stage's TRL config, accelerate's.

    ``num_processes`` (default: the accelerate file's) is the launch the batch arithmetic
    is checked for, as ``accelerate launch --num_processes`` would override the file.
    """
    out: dict[str, Any] = {"grm": asdict(cfg), "trl": {}}
    acc = read_accelerate_config(accelerate_config) if accelerate_config else None
    for stage in cfg.stages:
        args = stage_args(cfg, stage)
        out["trl"][stage] = {"class": type(args).__name__, **json.loads(args.to_json_string())}
        if stage == "grpo":
            out["grpo_shape"] = grpo_shape(args)
            world = num_processes or (int(acc["num_processes"]) if acc else None)
            if world is not None:  # the same YAML on the launch the accelerate file describes
                out["grpo_shape_at_launch"] = grpo_shape(args, world)
    out["accelerate"] = {
        "config_file": str(accelerate_config) if accelerate_config else None,
        "config": acc,
        "environment": launch_env(),
    }
    return out
