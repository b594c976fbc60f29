"""Seconds per GRPO step of TRL's trainer as grm builds it (``scripts/train_grpo_speed.py``).

One mode per process: vLLM on CPU sizes its KV cache from the memory the process already
holds, so a vLLM run must not follow a transformers run in the same interpreter.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from typing import Any


def time_steps(
    model: str | None, steps: int, use_vllm: bool, tokens: int, threads: int
) -> dict[str, Any]:
    """Build grm's GRPO trainer on the judge ``model`` and time ``steps`` steps: setup
    seconds and each step's seconds, or the error if the run fails (the failure itself is
    the measurement)."""
    from transformers import TrainerCallback

    from grm.training.config import TrainConfig
    from grm.training.grpo import build_grpo_trainer

    grpo: dict[str, Any] = {
        "max_steps": steps,
        "num_generations": 4,
        "per_device_train_batch_size": 8,
        "max_completion_length": tokens,
        "save_strategy": "no",
    }
    if use_vllm:
        grpo.update(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.1)
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, *a: Any, **kw: Any) -> None:
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            model=model,
            output_dir=tmp,
            stages=("grpo",),
            n_train=steps * 2,
            grpo=grpo,
            torch_threads=threads,
        )
        start = time.perf_counter()
        try:
            trainer, _ = build_grpo_trainer(cfg)
            trainer.add_callback(Stamp())
            built = time.perf_counter()
            trainer.train()
        except Exception as exc:  # noqa: BLE001  (the failure itself is the measurement)
            last = traceback.format_exc().strip().splitlines()[-1]
            return {"error": f"{type(exc).__name__}: {exc}"[:300], "last_line": last[:300]}
    times = [b - a for a, b in zip([built, *stamps], stamps, strict=False)]
    return {
        "setup_s": built - start,
        "step_s": times,
        "mean_step_s": sum(times) / len(times) if times else None,
    }
