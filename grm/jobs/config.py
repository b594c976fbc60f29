"""The job's settings (one validated dataclass) and how each worker loads its judge."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from grm.model import RewardModel

OutputFormat = Literal["rows", "dpo"]
Ties = Literal["drop", "keep"]


@dataclass(frozen=True)
class JobConfig:
    """How a labelling or ranking job samples, splits and writes. Validated on creation."""

    k: int | Literal["auto"] = 8
    """Chains per comparison, or "auto" (waves until the stopping rule decides, see
    grm.adaptive; ``judge_options`` may set max_k, wave_size, confidence)."""
    budget: int | None = None
    """k="auto": most chains for the whole job; each chunk gets its share in proportion to
    its rows (the first wave of every row is always paid). None: max_k per row bounds it."""
    batch_size: int = 16
    """Rows per chunk on average: one chunk is one batched judge call and one output shard."""
    seed: int = 0
    """Job seed; each chunk is judged with a seed derived from it and the chunk's index."""
    chains: bool = False
    """Write every chain's text, slot order and verdict with each row."""
    feedback: bool = False
    """Write the feedback of a chain that agrees with the verdict (where one gives it)."""
    format: OutputFormat = "rows"
    """'rows': the input rows plus the judge's fields; 'dpo': prompt/chosen/rejected rows
    for TRL's DPOTrainer (labelling only)."""
    min_confidence: float = 0.0
    """format='dpo': keep pairs whose winner's probability is at least this, in [0, 1)."""
    ties: Ties = "drop"
    """format='dpo': 'drop' ties, or 'keep' them in their input order (A as chosen)."""
    retry_errors: bool = False
    """Judge again the rows a previous run wrote to the errors file."""
    progress: bool | None = None
    """A progress bar with ETA and chains/s on stderr: None when stderr is a terminal, True
    always, False never (one machine; Ray Data shows its own)."""
    method: str = "knockout"
    """Ranking: 'pointwise', 'knockout' or 'round_robin' (see grm.ranking)."""
    judge_options: dict[str, Any] = field(default_factory=dict)
    """More judge settings per call (grm.config.JudgeConfig fields: max_k, confidence, ...)."""
    rank_options: dict[str, Any] = field(default_factory=dict)
    """Ranking settings (grm.ranking.RankConfig fields other than seed)."""
    data_format: str = "auto"
    """The input rows' shape (a grm.rows.FORMATS name, e.g. 'hh-rlhf'); 'auto' tells each
    row's shape from its columns."""

    def __post_init__(self) -> None:
        if self.k != "auto" and (
            not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1
        ):
            raise ValueError(f"k must be an integer >= 1 or 'auto', got {self.k!r}.")
        if self.budget is not None:
            if self.k != "auto":
                raise ValueError(
                    f"budget={self.budget} needs k='auto' (a fixed k spends k chains per "
                    "comparison); pass k='auto' or drop the budget."
                )
            if not isinstance(self.budget, int) or self.budget < 1:
                raise ValueError(f"budget must be an integer >= 1 or None, got {self.budget!r}.")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}.")
        if self.format not in ("rows", "dpo"):
            raise ValueError(f"format must be 'rows' or 'dpo', got {self.format!r}.")
        if not 0 <= self.min_confidence < 1:
            raise ValueError(
                f"min_confidence must be in [0, 1), got {self.min_confidence}; 0.5 keeps every "
                "decided pair, 0.8 keeps the confident ones."
            )
        if self.ties not in ("drop", "keep"):
            raise ValueError(f"ties must be 'drop' or 'keep', got {self.ties!r}.")
        from grm.config import JudgeConfig
        from grm.ranking import RankConfig, get_method
        from grm.rows import check_format

        check_format(self.data_format)

        get_method(self.method)  # raises with the list of names
        for name in ("k", "seed", "budget"):
            if name in self.judge_options:
                raise ValueError(f"judge_options must not set {name!r}; use JobConfig.{name}.")
        JudgeConfig(k=self.k, **self.judge_options)  # raises naming a bad field
        RankConfig(**self.rank_options)

    def fingerprint(self, task: str, model: str | None, template: str | None) -> dict[str, Any]:
        """The settings that decide a row's output; a resumed job must match them."""
        keys = ("k", "budget", "batch_size", "seed", "chains", "feedback", "judge_options")
        out: dict[str, Any] = {"task": task, "model": model, "template": template}
        out.update({k: v for k, v in asdict(self).items() if k in keys})
        if task == "rank":
            out["method"] = self.method
            out["rank_options"] = self.rank_options
        if self.data_format != "auto":  # absent when auto: older jobs still resume
            out["data_format"] = self.data_format
        return out


@dataclass(frozen=True)
class ModelSpec:
    """What every worker needs to load the same judge (picklable, for Ray actors)."""

    model: str | None = None
    """Checkpoint directory or hub id; None: the embedded default model."""
    engine: str = "auto"
    """'vllm', 'transformers', 'remote' or 'auto' (see grm.inference)."""
    template: str | None = None
    """Pairwise template name or template file; None: the model's own format when its name
    is known (grm.templates.detect), else 'default'."""
    pointwise_template: str | None = None
    """Pointwise template (grm rank --method pointwise); None: detected like ``template``."""
    engine_options: dict[str, Any] = field(default_factory=dict)
    """Passed to the engine, e.g. ``{"urls": [...]}`` for 'remote', ``max_model_len`` for vLLM."""
    calibrator: str | None = None
    """Calibrator JSON file; None uses the model directory's own when it has one."""
    judge: dict[str, Any] = field(default_factory=dict)
    """JudgeConfig defaults (max_tokens, temperature, on_unparsed, ...)."""

    def load(self) -> RewardModel:
        from grm.model import RewardModel

        return RewardModel.load(
            self.model,
            engine=self.engine,
            template=self.template,
            pointwise_template=self.pointwise_template,
            engine_options=dict(self.engine_options),
            calibrator=self.calibrator,
            **self.judge,
        )
