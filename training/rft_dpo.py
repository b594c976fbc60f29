"""A rejection-sampling round trained on preferences between the judge's own chains.

``rft.objective: dpo`` keeps the round's sampling and filter (:mod:`grm.training.rft`) and
changes what the fine-tune learns from them. An SFT round only raises the probability of the
kept chains; here each kept chain is paired with a chain of the same pair and response order
that is not right (:func:`~grm.training.rft_select.rejected_for`), and TRL's ``DPOTrainer``
pushes the judge from the second toward the first. That is iterative reasoning preference
optimisation (Pang et al. 2024, "Iterative Reasoning Preference Optimization"): DPO between
right and wrong chains of one question plus the NLL of the right one (TRL's
``loss_type: [sigmoid, sft]``), which on GSM8K beat SFT on the right chains alone. With LoRA
the reference model is the round's starting judge (the adapter switched off). The
fine-tune itself is :func:`grm.training.rft_train.fine_tune` with TRL's ``DPOTrainer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grm.training.tasks import TaskRow

from grm.templates import get_template

#: ``trl.DPOConfig`` arguments of a dpo round; the YAML ``rft.train`` section overrides them.
#: beta 0.1 and the NLL weight 1.0 are Pang et al.'s (2024) values.
DPO_TRAIN_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1,
    "per_device_train_batch_size": 4,
    "learning_rate": 5e-5,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 2,
    "max_length": 1024,
    "weight_decay": 0.0,
    "beta": 0.1,
    "loss_type": ["sigmoid", "sft"],
    "loss_weights": [1.0, 1.0],
}


def dpo_rows(rows: Sequence[TaskRow], template: str = "default") -> list[dict[str, Any]]:
    """Conversational preference rows for ``DPOTrainer``: the judge prompt in the order the
    chains saw, the kept ``chain`` as ``chosen`` and its ``rejected`` chain.

    >>> row = {"prompt": "2 + 2?", "responses": ["4", "5"], "preferred": 0, "order": [1, 0],
    ...        "chain": "right. Final verdict: [[B]]", "rejected": "Final verdict: [[A]]"}
    >>> out = dpo_rows([row])[0]
    >>> out["chosen"][0]["content"], out["rejected"][0]["content"]
    ('right. Final verdict: [[B]]', 'Final verdict: [[A]]')
    >>> "5" in out["prompt"][-1]["content"].split("</response_A>")[0]  # shown as ordered
    True
    """
    from grm.training.data import request_of

    tpl = get_template(template)
    return [
        {
            "prompt": tpl.messages(request_of(row), tuple(row["order"])),
            "chosen": [{"role": "assistant", "content": str(row["chain"])}],
            "rejected": [{"role": "assistant", "content": str(row["rejected"])}],
        }
        for row in rows
    ]


def dpo_args(cfg: Any, r: int, output_dir: Path) -> Any:
    """``trl.DPOConfig`` of round ``r``: grm's defaults, then ``rft.train``."""
    from grm.training.rft_train import round_args
    from trl import DPOConfig

    return round_args(cfg, r, output_dir, DPOConfig, DPO_TRAIN_DEFAULTS)
