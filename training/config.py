"""The training run's config: one validated dataclass, loadable from YAML.

grm's own choices (model, template, data, stages, rewards, LoRA) are fields here; anything a
TRL trainer takes goes, unchanged, in the ``sft`` / ``grpo`` sections and on to
``trl.SFTConfig`` / ``trl.GRPOConfig``, so no TRL option is copied or hidden.

Example YAML (see ``training/configs/``)::

    model: null                 # the embedded default judge
    output_dir: runs/judge-sft
    stages: [sft]
    tasks: {tasks: [addition], seed: 0}
    n_train: 3200
    sft: {max_steps: 400, per_device_train_batch_size: 8, learning_rate: 1.0e-4}
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from grm.training.data import FORMATS, PREFERENCE_CHAINS
from grm.training.tasks import TaskConfig

from grm.templates import get_template

STAGES = ("sft", "rft", "grpo")


@dataclass
class RFTConfig:
    """The ``rft:`` section of a training config."""

    rounds: int = 2
    """Sample-filter-fine-tune rounds; each starts from the previous round's judge."""
    pairs_per_round: int = 200
    """Training pairs sampled per round (fresh pairs each round)."""
    k: int = 8
    """Chains sampled per pair, split evenly over the two response orders."""
    max_tokens: int = 128
    """Most tokens per sampled chain; a chain cut before its verdict is not kept."""
    temperature: float = 1.0
    """Sampling temperature of the rounds' chains."""
    per_order: int = 1
    """Right chains kept per response order of a pair (at most)."""
    agree_orders: bool = False
    """Keep a pair only when its majority verdict is right in both response orders."""
    drop_all_right: bool = True
    """Drop pairs whose every chain is right: they teach nothing the judge lacks."""
    verify: bool = False
    """Count a chain right only when it also states the rule's chain for its pair and order
    (the chain SFT writes, whitespace aside): a right verdict reached by a wrong step is
    dropped. For verifiable tasks, and for labelled pairs with ``preference_chains``."""
    sft_mix: float = 0.0
    """Rule-rationale SFT rows mixed into each round's fine-tune, per kept chain (0.5: one
    for every two kept chains), drawn from the round's sampled pairs: a replay anchor, since
    a right verdict at ~60% chain accuracy is weak evidence that the chain's reasoning is."""
    control: bool = False
    """A control round: fine-tune on as many rule-chain rows as chains were kept, from
    pairs of the round drawn at random (both orders), instead of the kept chains; what the
    round's selection adds is the difference between the two judges."""
    max_kept: int = 0
    """At most this many kept chains (preference pairs for ``dpo``) trained on per round,
    drawn at random with the round's seed; 0 trains on all (a cap on a round's CPU time)."""
    objective: str = "sft"
    """How a round trains on what it keeps: ``sft`` (the kept chains as SFT rows) or ``dpo``
    (each kept chain against a chain of the same pair and order that is not right, with
    TRL's ``DPOTrainer``; ``train`` then holds ``trl.DPOConfig`` arguments)."""
    from_start: bool = False
    """Fine-tune every round from the stage's starting judge (ReST-EM) on the round's chains
    instead of continuing from the previous round."""
    engine: str = "vllm"
    """grm engine that samples the chains ('vllm', 'transformers', 'auto')."""
    engine_options: dict[str, Any] = field(default_factory=dict)
    """Options for the engine (for vLLM on CPU, e.g. ``gpu_memory_utilization``)."""
    train: dict[str, Any] = field(default_factory=dict)
    """Arguments for ``trl.SFTConfig`` of each round's fine-tune (over RFT_TRAIN_DEFAULTS)."""
    seed: int = 0
    """Seed of the pair draws and the fine-tunes (round r uses seed + r)."""

    def __post_init__(self) -> None:
        for name in ("rounds", "pairs_per_round", "max_tokens", "per_order"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"rft.{name} must be >= 1, got {getattr(self, name)}.")
        if self.k < 2 or self.k % 2:
            raise ValueError(
                f"rft.k must be an even number >= 2 (half the chains per response order), "
                f"got {self.k}."
            )
        if self.temperature <= 0:
            raise ValueError(
                f"rft.temperature must be > 0 (rejection sampling needs varied chains), "
                f"got {self.temperature}."
            )
        if not 0 <= self.sft_mix <= 4:
            raise ValueError(
                f"rft.sft_mix must be in [0, 4] (rows per kept chain), got {self.sft_mix}."
            )
        if self.max_kept < 0:
            raise ValueError(f"rft.max_kept must be >= 0 (0: no cap), got {self.max_kept}.")
        if self.objective not in ("sft", "dpo"):
            raise ValueError(f"rft.objective must be 'sft' or 'dpo', got {self.objective!r}.")
        if self.control and (self.objective != "sft" or self.sft_mix):
            raise ValueError(
                "rft.control replaces the kept chains with rule chains of random pairs; it "
                "needs objective sft and sft_mix 0."
            )
        if self.objective == "dpo" and self.sft_mix:
            raise ValueError(
                "rft.sft_mix mixes SFT rows, which a dpo round cannot train on; set it to 0 "
                "(the dpo objective's NLL term, loss_type [sigmoid, sft], is its anchor)."
            )
        if not isinstance(self.train, dict):
            raise ValueError("rft.train must be a mapping of trl.SFTConfig arguments.")
        if "output_dir" in self.train:
            raise ValueError("rft.train.output_dir is set by grm; set output_dir instead.")


@dataclass
class DifficultyConfig:
    """The ``difficulty:`` section of a training config (GRPO's pair filter)."""

    k: int = 8
    """Chains sampled per candidate pair (half per response order)."""
    low: float = 0.2
    """Keep pairs whose share of right chains is at least this."""
    high: float = 0.8
    """... and at most this."""
    max_tokens: int = 128
    """Most tokens per sampled chain."""
    temperature: float = 1.0
    """Sampling temperature (GRPO's own, so the shares match what training will see)."""
    engine: str = "vllm"
    """grm engine that samples ('vllm', 'transformers', 'auto')."""
    engine_options: dict[str, Any] = field(default_factory=dict)
    """Options for that engine."""
    verify: bool = False
    """Count a chain right only when it also states the rule's chain for its pair and order
    (as ``rft.verify`` and the ``verified`` reward do), so the band is that reward's."""

    def __post_init__(self) -> None:
        if self.k < 2 or self.k % 2:
            raise ValueError(f"difficulty.k must be an even number >= 2, got {self.k}.")
        if not 0 <= self.low <= self.high <= 1:
            raise ValueError(
                f"difficulty.low and difficulty.high must satisfy 0 <= low <= high <= 1, got "
                f"{self.low} and {self.high}."
            )


DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class TrainConfig:
    """A judge training run: SFT warm-start and/or GRPO, on generated or loaded preferences."""

    model: str | None = None
    """Checkpoint to start from; None is the embedded default model."""
    output_dir: str = "runs/judge"
    """Final model and tokenizer go here (loadable with ``RewardModel.load(output_dir)``);
    trainer checkpoints go to ``output_dir/checkpoints-<stage>``."""
    template: str = "default"
    """Judge template (grm.templates registry) the prompts and chains are written in."""
    stages: tuple[str, ...] = ("sft", "grpo")
    """Stages to run in order (sft, rft, grpo); each starts from the previous one's judge."""
    tasks: TaskConfig = field(default_factory=TaskConfig)
    """Verifiable task families and split (used when ``data`` is not given)."""
    n_train: int = 2000
    """Training items generated per stage from the verifiable tasks."""
    n_eval: int = 200
    """Held-out items for the evaluation after training."""
    data: str | None = None
    """Your preference data for GRPO instead of the generated tasks: a JSONL / JSON /
    Parquet file or a directory saved with ``datasets``' ``save_to_disk``, in any shape of
    :mod:`grm.training.user_data` (RewardBench, JudgeBench, pairs, pointwise)."""
    data_format: str = "auto"
    """Shape of ``data``; 'auto' detects it from the columns."""
    heldout_fraction: float = 0.1
    """Share of ``data``'s prompts held out (by a seeded hash of the prompt, so no prompt is
    in both splits) for the held-out accuracy."""
    max_prompt_length: int | None = None
    """Drop rows whose judge prompt is longer than this many tokens (reported by
    ``--check-data``); None keeps every row."""
    heldout_every: int = 0
    """Judge the held-out split every this many steps (and before the first step); 0: off."""
    heldout_n: int = 64
    """Held-out pairs judged each time (the first of the held-out split)."""
    heldout_ks: tuple[int, ...] = (1, 8)
    """k values whose held-out accuracy is logged; one pass at the largest gives them all."""
    heldout_max_tokens: int = 128
    """Most tokens per held-out chain."""
    report_to: str | list[str] = "none"
    """The trainers' ``report_to`` (``tensorboard``, ``wandb``, ...) unless a stage section
    sets its own; grm's metrics.jsonl is written either way."""
    dtype: str = "auto"
    """Weights dtype while training: 'auto' is float32 on CPU and bfloat16 on a GPU that has
    it; or float32 / bfloat16 / float16."""
    distill: str | None = None
    """JSONL of a stronger judge's chains (prompt, responses, order, chain, preferred) for
    the SFT stage instead of templated rationales."""
    preference_chains: str = "label"
    """SFT chains for ``data`` pairs: 'label' quotes each reply with one cue and names the
    labelled reply (preference_rationale); 'rule' names the reply the stated cues pick and
    leaves out the orders where that is not the label (rule_rationale)."""
    both_orders: bool = True
    """Show each pair in both response orders, next to each other in the data."""
    lora_r: int = 0
    """LoRA rank; 0 trains all weights. A LoRA model is merged before it is saved."""
    lora_alpha: int = 32
    """LoRA scaling numerator (alpha / r scales the update)."""
    rewards: dict[str, float] = field(
        default_factory=lambda: {"verdict": 1.0, "format": 0.1, "overlong": 1.0}
    )
    """GRPO reward functions (keys of grm.training.rewards.REWARD_FUNCS) and their weights."""
    sft: dict[str, Any] = field(default_factory=dict)
    """Arguments for ``trl.SFTConfig`` (max_steps, learning_rate, batch size, ...)."""
    grpo: dict[str, Any] = field(default_factory=dict)
    """Arguments for ``trl.GRPOConfig`` (num_generations, max_completion_length, use_vllm, ...)."""
    difficulty: DifficultyConfig | None = None
    """GRPO trains only on pairs the starting judge gets right between ``low`` and ``high``
    of the time (:class:`grm.training.difficulty.DifficultyConfig`); None: every pair."""
    rft: RFTConfig = field(default_factory=RFTConfig)
    """Rejection-sampling rounds (:class:`grm.training.rft.RFTConfig`; its ``train`` mapping
    goes to ``trl.SFTConfig`` for each round's fine-tune)."""
    resume: bool = True
    """Resume each stage from its last trainer checkpoint in ``output_dir`` when one exists."""
    seed: int = 0
    """Seed of the data orders and the trainers."""
    torch_threads: int | None = None
    """CPU threads for torch; None keeps torch's default. On a CPU shared with other jobs,
    1 thread avoids OpenMP barrier stalls (measured here: 29 s a step instead of 90 s)."""

    def __post_init__(self) -> None:
        if isinstance(self.tasks, dict):
            self.tasks = TaskConfig(**self.tasks)
        if isinstance(self.rft, dict):
            unknown = sorted(set(self.rft) - {f.name for f in fields(RFTConfig)})
            if unknown:
                raise ValueError(
                    f"rft: unknown keys {unknown}; choose from "
                    f"{sorted(f.name for f in fields(RFTConfig))}."
                )
            self.rft = RFTConfig(**self.rft)
        if isinstance(self.difficulty, dict):
            self.difficulty = DifficultyConfig(**self.difficulty)
        self.stages = tuple(self.stages)
        bad = [s for s in self.stages if s not in STAGES]
        if not self.stages or bad:
            raise ValueError(
                f"stages must be a non-empty list of {STAGES}, got {list(self.stages)}."
            )
        get_template(self.template)  # raises with the registered names
        if self.n_train < 1:
            raise ValueError(f"n_train must be >= 1, got {self.n_train}.")
        if self.n_eval < 0:
            raise ValueError(f"n_eval must be >= 0, got {self.n_eval}.")
        if self.data_format not in FORMATS:
            raise ValueError(f"data_format must be one of {FORMATS}, got {self.data_format!r}.")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(
                f"torch_threads must be >= 1 or None (torch's default), got {self.torch_threads}."
            )
        if not 0 <= self.heldout_fraction < 1:
            raise ValueError(
                f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}; "
                "0 trains on every row."
            )
        if self.max_prompt_length is not None and self.max_prompt_length < 1:
            raise ValueError(
                f"max_prompt_length must be >= 1 or None (no limit), got {self.max_prompt_length}."
            )
        self.heldout_ks = tuple(int(k) for k in self.heldout_ks)
        if self.heldout_every < 0 or self.heldout_n < 0 or not self.heldout_ks:
            raise ValueError(
                f"heldout_every and heldout_n must be >= 0 and heldout_ks non-empty, got "
                f"{self.heldout_every}, {self.heldout_n}, {list(self.heldout_ks)}."
            )
        if min(self.heldout_ks) < 1 or self.heldout_max_tokens < 1:
            raise ValueError(
                f"heldout_ks and heldout_max_tokens must be >= 1, got {list(self.heldout_ks)}, "
                f"{self.heldout_max_tokens}."
            )
        if self.preference_chains not in PREFERENCE_CHAINS[1:]:
            raise ValueError(
                f"preference_chains must be one of {PREFERENCE_CHAINS[1:]}, "
                f"got {self.preference_chains!r}."
            )
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}.")
        if self.lora_r < 0:
            raise ValueError(f"lora_r must be >= 0 (0 = full fine-tune), got {self.lora_r}.")
        from grm.training.rewards import REWARD_FUNCS

        unknown = [k for k in self.rewards if k not in REWARD_FUNCS]
        if not self.rewards or unknown:
            raise ValueError(
                f"rewards must name reward functions, got {sorted(self.rewards)}; "
                f"choose from {sorted(REWARD_FUNCS)}."
            )
        for name in ("sft", "grpo"):
            section = getattr(self, name)
            if not isinstance(section, dict):
                raise ValueError(f"{name} must be a mapping of trl.{name.upper()}Config arguments.")
            if "output_dir" in section:
                raise ValueError(
                    f"{name}.output_dir is set by grm (output_dir/checkpoints-{name}); "
                    "set the top-level output_dir instead."
                )

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a YAML file; ``overrides`` (non-None) replace top-level keys."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; see training/configs/ for examples.")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(f"{path} must hold a mapping of TrainConfig fields.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown keys {unknown}; TrainConfig has {sorted(known)}.")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)

    def stage_dir(self, stage: str) -> Path:
        return Path(self.output_dir) / f"checkpoints-{stage}"

    @property
    def chain_kind(self) -> str | None:
        """Which rule chains this config's pairs have (``grm.training.data.rule_chain``):
        None for the verifiable tasks (their facts write the chain), else the
        ``preference_chains`` kind for ``data``'s labelled pairs."""
        return self.preference_chains if self.data is not None else None
