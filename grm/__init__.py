"""grm: generative reasoning reward models with test-time scaling."""

from grm.config import UNSET, JudgeConfig
from grm.jobs import label, rank_dataset
from grm.model import RewardModel
from grm.types import Chain, JudgeRequest, Judgment, Result

__version__ = "0.1.0"

__all__ = [
    "UNSET",
    "Chain",
    "JudgeConfig",
    "JudgeRequest",
    "Judgment",
    "Result",
    "RewardModel",
    "label",
    "rank_dataset",
]
