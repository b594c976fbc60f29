"""Train a meta reward model on the judge's own chains (DeepSeek-GRM's meta RM).

DeepSeek-GRM (Liu et al. 2025, "Inference-Time Scaling for Generalist Reward Modeling",
arXiv:2504.02495) trains a pointwise scalar model with binary cross-entropy to predict
whether a sampled chain's judgment is right, then votes over the chains it rates best
(:func:`grm.aggregation.meta_vote`). The pipeline here:

1. sample ``k`` chains per labelled pair with the judge (``RewardModel.compare_batch``);
2. label each chain 1 when its verdict names the preferred response, else 0; abstentions and
   ties are dropped, forced verdicts kept (:mod:`grm.training.meta_data` says why);
3. split by pair, so chains of one pair never sit on both sides, and balance the classes by
   dropping random chains of the larger class;
4. fine-tune an ``AutoModelForSequenceClassification`` (one logit) with BCE on
   :func:`grm.meta.meta_text` of each chain; report held-out ROC AUC and accuracy;
5. save a directory that ``RewardModel.load(meta_rm=DIR)`` reads, with the metrics in
   ``grm_meta_rm.json``.

Departures from the paper: the meta RM starts from any small base (the embedded default
model by default) rather than from the judge, and is trained on verifiable pairs only.

    grm train-meta training/configs/meta-rm-addition.yaml
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from grm.training.meta_data import (
    MetaExample,
    balance_classes,
    heldout_metrics,
    sample_examples,
    score_examples,
    split_by_pair,
)
from grm.training.tasks import TaskConfig, make_tasks

logger = logging.getLogger(__name__)

#: Written next to the weights: the run's config, data counts and held-out metrics.
META_RM_FILE = "grm_meta_rm.json"


@dataclass
class MetaRMTrainConfig:
    """A meta-RM training run: chains from a judge on verifiable pairs, then BCE training."""

    judge: str | None = None
    """Judge checkpoint that samples the chains; None is the embedded default model."""
    base_model: str | None = None
    """Meta RM starting weights (a causal LM gets a fresh one-logit head); None is the
    embedded default model."""
    output_dir: str = "runs/meta-rm"
    """The trained meta RM goes here (load it with ``RewardModel.load(meta_rm=...)``)."""
    engine: str = "auto"
    """Engine of the judge while sampling ('vllm', 'transformers', 'auto')."""
    engine_options: dict[str, Any] = field(default_factory=dict)
    """Options for the judge's engine (for vLLM: max_model_len, enforce_eager, ...)."""
    template: str = "default"
    """Judge template the chains are written in."""
    tasks: TaskConfig = field(default_factory=TaskConfig)
    """Verifiable task families; chains are sampled on their train split."""
    n_pairs: int = 128
    """Labelled pairs to sample chains on."""
    k: int = 8
    """Chains per pair (position-balanced)."""
    temperature: float = 1.0
    """Sampling temperature; high enough that chains disagree, so both labels occur."""
    max_tokens: int = 72
    """Most tokens per chain."""
    eval_fraction: float = 0.2
    """Share of pairs held out for the AUC."""
    balance: bool = True
    """Drop random chains of the larger class (in both splits) so the classes are equal."""
    max_steps: int = 60
    """Optimizer steps."""
    batch_size: int = 8
    """Chains per step."""
    learning_rate: float = 2e-5
    """AdamW learning rate."""
    max_length: int = 384
    """Most tokens per meta-RM input (the start is cut, the verdict kept)."""
    trainable_layers: int | None = None
    """Train only the last N transformer layers and the head (faster on CPU); None: all."""
    seed: int = 0
    """Seed of the sampling, the split, the balancing and the trainer."""
    torch_threads: int | None = None
    """CPU threads for torch; None keeps torch's default (1 on a CPU shared with others)."""
    trainer: dict[str, Any] = field(default_factory=dict)
    """More ``transformers.TrainingArguments`` (warmup_steps, weight_decay, ...)."""

    def __post_init__(self) -> None:
        if isinstance(self.tasks, dict):
            self.tasks = TaskConfig(**self.tasks)
        for name in ("n_pairs", "k", "max_tokens", "max_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if self.n_pairs < 2:
            raise ValueError(f"n_pairs must be >= 2 (one pair per split), got {self.n_pairs}.")
        if not 0 < self.eval_fraction < 1:
            raise ValueError(f"eval_fraction must be in (0, 1), got {self.eval_fraction}.")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}.")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}.")
        if self.max_length < 16:
            raise ValueError(f"max_length must be >= 16 tokens, got {self.max_length}.")
        if self.trainable_layers is not None and self.trainable_layers < 0:
            raise ValueError(
                f"trainable_layers must be >= 0 or None (all), got {self.trainable_layers}."
            )
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1 or None, got {self.torch_threads}.")
        clash = {"output_dir", "max_steps", "learning_rate", "per_device_train_batch_size"}
        clash &= set(self.trainer)
        if clash:
            raise ValueError(
                f"trainer sets {sorted(clash)}, which are top-level fields here; set them there."
            )

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> MetaRMTrainConfig:
        """Read a YAML file; ``overrides`` (non-None) replace top-level keys."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; see training/configs/ for examples.")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path} must hold a mapping of MetaRMTrainConfig fields.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"{path}: unknown keys {unknown}; MetaRMTrainConfig has {sorted(known)}."
            )
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)


def _freeze_lower_layers(model: Any, trainable: int) -> None:
    """Freeze everything but the last ``trainable`` transformer layers and the head."""
    base: Any = getattr(model, model.base_model_prefix, None)
    layers = getattr(base, "layers", None)
    if base is None or layers is None:
        raise ValueError(
            f"trainable_layers needs a model with {model.base_model_prefix}.layers; "
            f"{type(model).__name__} has none (set trainable_layers: null)."
        )
    for p in base.parameters():
        p.requires_grad = False
    for layer in list(layers)[len(layers) - trainable :] if trainable else []:
        for p in layer.parameters():
            p.requires_grad = True
    norm = getattr(base, "norm", None)
    if norm is not None:
        for p in norm.parameters():
            p.requires_grad = True


def train_meta_rm(
    train: Sequence[MetaExample], held_out: Sequence[MetaExample], cfg: MetaRMTrainConfig
) -> dict[str, Any]:
    """Fine-tune a one-logit classifier with BCE on ``train``; save it to ``cfg.output_dir``.

    Returns the held-out metrics (AUC, accuracy) and the training loss and time.
    """
    import torch
    from grm.inference.meta_rm import MetaRM, MetaRMConfig, meta_tokenizer
    from torch.nn.functional import binary_cross_entropy_with_logits
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    if not train:
        raise ValueError("no training examples: every chain abstained; raise max_tokens or k.")
    if cfg.torch_threads is not None:
        torch.set_num_threads(cfg.torch_threads)
    base = cfg.base_model
    if base is None:
        from grm.default_model import default_model_path

        base = str(default_model_path())
    tokenizer = meta_tokenizer(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=1, torch_dtype=torch.float32
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    if cfg.trainable_layers is not None:
        _freeze_lower_layers(model, cfg.trainable_layers)

    class BCETrainer(Trainer):
        """Binary cross-entropy on the single logit (DeepSeek-GRM's meta-RM loss)."""

        def compute_loss(  # type: ignore[override]
            self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, **kw: Any
        ) -> Any:
            labels = inputs.pop("labels").float()
            outputs = model(**inputs)
            loss = binary_cross_entropy_with_logits(outputs.logits[:, 0], labels)
            return (loss, outputs) if return_outputs else loss

    class _Data(torch.utils.data.Dataset):
        def __init__(self, examples: Sequence[MetaExample]) -> None:
            self.examples = examples

        def __len__(self) -> int:
            return len(self.examples)

        def __getitem__(self, i: int) -> dict[str, Any]:
            e = self.examples[i]
            enc = tokenizer(e.text, truncation=True, max_length=cfg.max_length)
            return {**enc, "labels": float(e.label)}

    out = Path(cfg.output_dir)
    extra: dict[str, Any] = {
        "report_to": [],
        "save_strategy": "no",
        "logging_steps": max(1, cfg.max_steps // 10),
        "use_cpu": not torch.cuda.is_available(),
        **cfg.trainer,
    }
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        seed=cfg.seed,
        **extra,
    )
    trainer = BCETrainer(
        model=model,
        args=args,
        train_dataset=_Data(train),
        data_collator=DataCollatorWithPadding(tokenizer),
    )
    start = time.perf_counter()
    state = trainer.train()
    train_s = time.perf_counter() - start
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))

    scorer = MetaRM(MetaRMConfig(str(out), max_length=cfg.max_length, threads=cfg.torch_threads))
    scores = score_examples(scorer, held_out)
    metrics: dict[str, Any] = {
        "held_out": heldout_metrics(scores, [e.label for e in held_out]),
        "train_loss": float(state.training_loss),
        "train_seconds": train_s,
    }
    return metrics


def run(cfg: MetaRMTrainConfig) -> tuple[Path, dict[str, Any]]:
    """The whole pipeline: sample and label chains, split, balance, train, report, save."""
    from grm import RewardModel

    start = time.perf_counter()
    rows = make_tasks(cfg.tasks, "train", cfg.n_pairs)
    with RewardModel.load(
        cfg.judge,
        engine=cfg.engine,
        template=cfg.template,
        engine_options=cfg.engine_options,
        calibrator=False,
    ) as rm:
        examples = sample_examples(
            rm,
            rows,
            cfg.k,
            max_tokens=cfg.max_tokens,
            temperature=cfg.temperature,
            seed=cfg.seed,
        )
    sample_s = time.perf_counter() - start
    train, held = split_by_pair(examples, cfg.eval_fraction, cfg.seed)
    if cfg.balance:
        train, held = balance_classes(train, cfg.seed), balance_classes(held, cfg.seed)
    logger.info("meta RM data: %d train, %d held-out chains", len(train), len(held))
    metrics = train_meta_rm(train, held, cfg)
    report = {
        "config": {**asdict(cfg), "tasks": asdict(cfg.tasks)},
        "chains": len(examples),
        "chains_right": sum(e.label for e in examples),
        "chains_forced": sum(e.forced for e in examples),
        "train_chains": len(train),
        "held_out_chains": len(held),
        "sample_seconds": sample_s,
        **metrics,
    }
    path = Path(cfg.output_dir)
    (path / META_RM_FILE).write_text(json.dumps(report, indent=2, default=str))
    return path, report
