"""Held-out accuracy at k=1 and k=8 during training: a TrainerCallback and its pure math.

Every ``heldout_every`` optimizer steps (and once before the first step of a fresh run) the
policy being trained judges the held-out pairs through :class:`grm.RewardModel` with the
largest k, position-balanced as at inference. Accuracy at each smaller k comes from the same
chains: for k=1 a pair's score is the mean over its chains (the expected score of one chain
in a random order); for k < k_max the curve is resampled as in ``grm eval``
(:func:`grm.eval_metrics.accuracy_vs_k`). So one engine pass gives every k.

The results go through ``trainer.log``: to the trainer's ``report_to`` backends
(TensorBoard, W&B, ...) and to grm's ``metrics.jsonl`` as ``heldout/accuracy_k<k>`` rows
(no "@" in the names: TensorBoard's writer would rewrite it to "_").

Under data parallelism each process judges its share of the pairs with its own copy of the
weights and the chains are gathered, so all processes log the same figures. With sharded
parameters (DeepSpeed ZeRO-3, FSDP) no process holds the whole model; the callback refuses
that set-up and says to evaluate the saved checkpoints with ``grm eval`` instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from grm.training.data import request_of
from grm.training.tasks import TaskRow

from grm.eval_metrics import ChainRecord, accuracy_vs_k, majority, rb_score
from grm.scaling_metrics import bootstrap_interval

logger = logging.getLogger(__name__)


def chain_records(result: Any) -> list[ChainRecord]:
    """A pairwise Result's chains as the metrics see them (original indices, 'tie', None)."""
    out = []
    for c in result.chains:
        j = c.judgment
        winner: int | str | None
        if j.abstained:
            winner = None
        elif j.tie or j.winner is None:
            winner = "tie"
        else:
            winner = j.winner
        out.append(ChainRecord(c.order[0], winner, c.forced))
    return out


def single_chain_score(chains: Sequence[ChainRecord], label: int) -> float:
    """Expected RewardBench score of one chain drawn at random (k=1), ties and none 0.5.

    >>> single_chain_score([ChainRecord(0, 0), ChainRecord(1, 1), ChainRecord(0, None)], 0)
    0.5
    """
    if not chains:
        return 0.5
    return sum(
        rb_score(c.winner if isinstance(c.winner, int) else None, label) for c in chains
    ) / len(chains)


def heldout_metrics(
    chains: Sequence[Sequence[ChainRecord]],
    labels: Sequence[int],
    ks: Sequence[int],
    seed: int = 0,
) -> dict[str, float]:
    """``accuracy_k<k>`` (with ``ci95_lo_k<k>`` / ``ci95_hi_k<k>`` for k=1 and the largest k),
    ``parsed_rate`` and ``n`` from the chains of one pass at the largest k.

    >>> c = [[ChainRecord(0, 0), ChainRecord(1, 0)], [ChainRecord(0, 1), ChainRecord(1, 0)]]
    >>> m = heldout_metrics(c, [0, 0], ks=(1, 2))
    >>> m["accuracy_k1"], m["accuracy_k2"], m["n"]
    (0.75, 0.75, 2.0)
    """
    if not chains:
        return {"n": 0.0}
    k_max = max(ks)
    out: dict[str, float] = {"n": float(len(chains))}
    curve = {int(p["k"]): p["accuracy"] for p in accuracy_vs_k(chains, labels, k_max, seed=seed)}
    per_pair = {
        1: [single_chain_score(c, y) for c, y in zip(chains, labels, strict=True)],
        k_max: [rb_score(majority(c), y) for c, y in zip(chains, labels, strict=True)],
    }
    for k in ks:
        if k in per_pair:
            scores = per_pair[k]
            out[f"accuracy_k{k}"] = sum(scores) / len(scores)
            lo, hi = bootstrap_interval(scores, seed=seed)
            out[f"ci95_lo_k{k}"], out[f"ci95_hi_k{k}"] = lo, hi
        elif k in curve:
            out[f"accuracy_k{k}"] = curve[k]
    total = sum(len(c) for c in chains)
    out["parsed_rate"] = sum(not c.forced for cs in chains for c in cs) / max(total, 1)
    return out


def judge_rows(rm: Any, rows: Sequence[TaskRow], k: int, seed: int = 0) -> list[list[ChainRecord]]:
    """Chains of ``rm`` (a RewardModel) on ``rows`` at ``k``, in one batched call."""
    if not rows:
        return []
    results = rm.compare_batch([request_of(r) for r in rows], k=k, seed=seed)
    return [chain_records(r) for r in results]


def live_reward_model(model: Any, tokenizer: Any, template: str, **config: Any) -> Any:
    """A :class:`grm.RewardModel` over a model object in memory (the policy being trained).

    It runs grm's transformers engine on that very object, so no weights are copied.
    """
    from grm.inference.transformers_engine import TransformersEngine, TransformersEngineConfig

    from grm import JudgeConfig, RewardModel

    class _LiveEngine(TransformersEngine):
        def __init__(self) -> None:  # the model is already loaded: skip from_pretrained
            import torch

            self.config = TransformersEngineConfig(dtype="auto")
            self.tokenizer = tokenizer
            self.model = model
            self.device = next(model.parameters()).device
            self.max_context = int(getattr(model.config, "max_position_embeddings", 2048))
            self._torch = torch

        def close(self) -> None:  # the trainer owns the model
            pass

    return RewardModel(_LiveEngine(), template=template, config=JudgeConfig(**config))


def heldout_callback(
    rows: Sequence[TaskRow],
    every: int,
    ks: Sequence[int] = (1, 8),
    template: str = "default",
    max_tokens: int = 128,
    temperature: float | None = None,
    seed: int = 0,
) -> Any:
    """The TrainerCallback; call its ``attach(trainer)`` once the trainer is built."""
    from transformers import TrainerCallback

    class _Heldout(TrainerCallback):
        """Held-out accuracy every ``every`` steps, before training, and at the end."""

        def __init__(self) -> None:
            self.rows = list(rows)
            self.trainer: Any = None
            self.history: list[dict[str, float]] = []
            self._done: set[int] = set()

        def attach(self, trainer: Any) -> None:
            """Give the callback its trainer (for the live model, the process group, log)."""
            if getattr(trainer, "is_fsdp_enabled", False) or _zero3(trainer):
                raise ValueError(
                    "heldout_every > 0 needs every process to hold the whole model; with "
                    "DeepSpeed ZeRO-3 or FSDP set heldout_every: 0 and run `grm eval` on the "
                    "saved checkpoints."
                )
            self.trainer = trainer

        def evaluate(self, step: int) -> dict[str, float]:
            trainer = self.trainer
            acc = trainer.accelerator
            model = acc.unwrap_model(trainer.model)
            tok = trainer.processing_class
            was_training = model.training
            model.eval()
            start = time.perf_counter()
            try:
                rm = live_reward_model(
                    model, tok, template, max_tokens=max_tokens, temperature=temperature
                )
                share = self.rows[acc.process_index :: acc.num_processes]
                chains = judge_rows(rm, share, max(ks), seed=seed + step)
                labels = [r["preferred"] for r in share]
                if acc.num_processes > 1:
                    from accelerate.utils import gather_object

                    pairs = gather_object([list(zip(chains, labels, strict=True))])
                    merged = [p for part in pairs for p in part]
                    chains, labels = [c for c, _ in merged], [y for _, y in merged]
                metrics = heldout_metrics(chains, labels, ks, seed=seed)
                metrics["seconds"] = time.perf_counter() - start
                row = {f"heldout/{k}": v for k, v in metrics.items()}
                # Logged while the model is in eval mode, so TRL's trainers do not fold
                # (and clear) the training metrics gathered since the last logging step.
                trainer.log(dict(row))
            finally:
                if was_training:
                    model.train()
            self.history.append({"step": float(step), **metrics})
            self._done.add(step)
            logger.info("held-out at step %d: %s", step, metrics)
            return metrics

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.trainer is not None and state.global_step == 0 and self.rows:
                self.evaluate(0)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            step = state.global_step
            if self.trainer is not None and self.rows and every > 0 and step % every == 0:
                # trainer.log clears control.should_log; keep the step's own logging.
                should_log = control.should_log
                self.evaluate(step)
                control.should_log = should_log

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.trainer is not None and self.rows and state.global_step not in self._done:
                self.evaluate(state.global_step)

    return _Heldout()


def _zero3(trainer: Any) -> bool:
    if not getattr(trainer, "is_deepspeed_enabled", False):
        return False
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return bool(plugin is not None and getattr(plugin, "zero_stage", 0) == 3)
