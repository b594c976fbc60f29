"""The baseline every reward-model paper compares to: a scalar Bradley-Terry reward model.

TRL's ``RewardTrainer`` (a sequence-classification head with one output on the same base
model, trained with the pairwise loss ``-log sigmoid(r_chosen - r_rejected)``; Ouyang et al.
2022) on the same preference pairs the generative judge trains on. It sees the conversation
and one response, not a judge template: that is how such models are trained and used. It is
judged on the same held-out pairs: a pair is right when the chosen response scores higher
(a tie counts 0.5, as RewardBench scores a generative tie).

    python -m grm.training.scalar_rm train --output-dir runs/scalar-rm-suite --pairs 320
    python -m grm.training.scalar_rm eval runs/scalar-rm-suite --per-kind 50 --offset 0

Prints one JSON object: accuracy with its 95% bootstrap interval, n, and seconds per pair.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grm.training.tasks import TaskConfig, TaskRow, make_tasks

logger = logging.getLogger(__name__)

SUITE_KINDS = ("arithmetic", "counting", "ordering", "units", "dates", "code")

#: RewardConfig arguments for the 135M model on a CPU; ``--set key=value`` overrides them.
REWARD_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1,
    "per_device_train_batch_size": 8,
    "learning_rate": 2e-5,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 2,
    "max_length": 1024,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "use_cpu": True,
    # TRL turns both on by default; on a CPU they cost time and buy nothing at 135M.
    "bf16": False,
    "gradient_checkpointing": False,
    "dataloader_num_workers": 0,
}


def _messages(prompt: Any) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt]


def preference_rows(rows: Sequence[TaskRow]) -> list[dict[str, Any]]:
    """grm's rows (prompt, responses, preferred) as TRL's conversational preference rows.

    >>> preference_rows([{"prompt": "2+2?", "responses": ["5", "4"], "preferred": 1}])[0]["chosen"]
    [{'role': 'assistant', 'content': '4'}]
    """
    out = []
    for row in rows:
        chosen = row["responses"][row["preferred"]]
        rejected = row["responses"][1 - row["preferred"]]
        out.append(
            {
                "prompt": _messages(row["prompt"]),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
        )
    return out


def suite_train_rows(pairs: int, tasks: TaskConfig | None = None) -> list[TaskRow]:
    """The first ``pairs`` items of the SFT stage's training stream (training/configs/
    sft-suite.yaml draws its rows from the same stream)."""
    cfg = tasks or TaskConfig(tasks=SUITE_KINDS, tier="medium", eval_fraction=0.15, seed=0)
    return make_tasks(cfg, "train", 2400)[:pairs]


def suite_heldout_rows(per_kind: int, offset: int = 0, tier: str = "medium") -> list[TaskRow]:
    """The held-out pairs scripts/bench_scaling.py judges (one seeded stream per kind)."""
    rows: list[TaskRow] = []
    for kind in SUITE_KINDS:
        cfg = TaskConfig(tasks=(kind,), tier=tier, seed=0)
        rows += make_tasks(cfg, "eval", offset + per_kind)[offset:]
    return rows


def train(rows: Sequence[TaskRow], out: Path, model: str | None = None, **overrides: Any) -> Path:
    """Train the scalar RM on ``rows`` from ``model`` (default: the embedded base)."""
    import torch
    from datasets import Dataset
    from grm.training.common import resolve_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    torch.set_num_threads(int(overrides.pop("torch_threads", 2)))
    path = resolve_model(model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    rm = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    rm.config.pad_token_id = tokenizer.pad_token_id
    args = RewardConfig(output_dir=str(out / "checkpoints"), **{**REWARD_DEFAULTS, **overrides})
    trainer = RewardTrainer(
        model=rm,
        args=args,
        train_dataset=Dataset.from_list(preference_rows(rows)),
        processing_class=tokenizer,
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    (out / "train.json").write_text(
        json.dumps({"pairs": len(rows), "seconds": seconds, "args": overrides}, indent=2)
    )
    return out


def score(model_dir: str | Path, rows: Sequence[TaskRow], batch_size: int = 8) -> dict[str, Any]:
    """Accuracy of the scalar RM on ``rows`` (chosen above rejected; ties 0.5), with a 95%
    bootstrap interval, and its cost: seconds per judged pair on this machine."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from grm.scaling_metrics import bootstrap_interval

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    rm = AutoModelForSequenceClassification.from_pretrained(str(model_dir), dtype=torch.float32)
    rm.eval()
    texts = []
    for r in preference_rows(rows):
        for side in ("chosen", "rejected"):
            texts.append(tokenizer.apply_chat_template(r["prompt"] + r[side], tokenize=False))
    rewards: list[float] = []
    start = time.perf_counter()
    with torch.inference_mode():
        for start_at in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start_at : start_at + batch_size],
                return_tensors="pt",
                padding=True,
                truncation=True,
            )
            rewards += rm(**enc).logits[:, 0].tolist()
    seconds = time.perf_counter() - start
    per_pair = [
        1.0 if c > r else 0.5 if c == r else 0.0
        for c, r in zip(rewards[0::2], rewards[1::2], strict=True)
    ]
    lo, hi = bootstrap_interval(per_pair)
    return {
        "n": len(per_pair),
        "accuracy": sum(per_pair) / len(per_pair) if per_pair else float("nan"),
        "interval": [lo, hi],
        "seconds_per_pair": seconds / max(len(per_pair), 1),
        "per_pair": per_pair,
    }


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


CONFIG_HELP = (
    "a grm train YAML: its data's prompt-disjoint split (train or held-out side), the same "
    "pairs the generative judge of that config trains and is measured on"
)


def config_split(config: str, side: str) -> list[TaskRow]:
    """The train or held-out rows of a ``grm train`` config's data (its length filter and
    split by prompt)."""
    from grm.training.config import TrainConfig
    from grm.training.user_data import prepare_for

    report = prepare_for(TrainConfig.from_yaml(config))
    return list(report.train if side == "train" else report.heldout)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m grm.training.scalar_rm", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the scalar RM")
    t.add_argument("--output-dir", required=True)
    t.add_argument("--model", default=None, help="base checkpoint (default: the embedded one)")
    t.add_argument("--pairs", type=int, default=320, help="training pairs of the suite")
    t.add_argument("--data", default=None, help="a preference file instead of the suite")
    t.add_argument("--config", default=None, help=CONFIG_HELP)
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    e = sub.add_parser("eval", help="accuracy on held-out pairs")
    e.add_argument("model_dir")
    e.add_argument("--per-kind", type=int, default=50)
    e.add_argument("--offset", type=int, default=0)
    e.add_argument("--data", default=None, help="a preference file instead of the suite")
    e.add_argument("--config", default=None, help=CONFIG_HELP)
    e.add_argument("--json", default=None, help="write the report (per-pair scores too) here")
    e.add_argument(
        "--record", default=None, metavar="NAME", help="also write docs/records/NAME.json"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.cmd == "train":
        if args.config:
            rows = config_split(args.config, "train")[: args.pairs]
        elif args.data:
            from grm.training.data import load_preferences

            rows = load_preferences(args.data)[: args.pairs]
        else:
            rows = suite_train_rows(args.pairs)
        sets = dict(s.split("=", 1) for s in args.set)
        out = train(
            rows, Path(args.output_dir), args.model, **{k: _value(v) for k, v in sets.items()}
        )
        print(json.dumps({"saved": str(out)}))
        return 0
    if args.config:
        rows = config_split(args.config, "heldout")
    elif args.data:
        from grm.training.data import load_preferences

        rows = load_preferences(args.data)
    else:
        rows = suite_heldout_rows(args.per_kind, args.offset)
    run = None
    if args.record:
        from grm.benchmarks.record import Run

        run = Run(args.record, kind="scalar_rm", args=vars(args))
    report = score(args.model_dir, rows)
    if run is not None:
        from grm.benchmarks.record import figure

        run.figures["accuracy"] = figure(report["per_pair"])
        run.figures["seconds_per_pair"] = report["seconds_per_pair"]
        run.items = report["per_pair"]
        print(f"record: {run.save()}")
    if args.json:
        Path(args.json).write_text(json.dumps(report))
    print(json.dumps({k: v for k, v in report.items() if k != "per_pair"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
