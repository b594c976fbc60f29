"""From a judge's result to one RL reward: the single mapping every face uses.

The server's ``/get_reward`` (OpenRLHF), the TRL adapters (pointwise, reference and
multi-turn rewards), the reference-guided rewards of :mod:`grm.ranking.rewards` and the
verl ``compute_score`` all turn a :class:`grm.types.Result` into a number here, so they
agree on the scale and on what a result without any verdict earns.

Scale: a reward lies in [0, 1].

- pairwise: ``P(response `slot` is the better one)``, the result's (possibly calibrated)
  probability; for ``slot=0`` that is ``Result.p_a``;
- pointwise: ``(score - low) / (high - low)`` with ``low``/``high`` the template's score
  range (1-10 for ``pointwise``/``deepseek-grm`` and ``multiturn``), clipped to [0, 1].

No verdict (:attr:`Result.no_verdict`: every chain abstained, even after forcing) is not
evidence of a bad response, so it is never silently read as 0. :class:`RewardMapConfig`
sets one documented policy:

- ``"drop"`` (default): the reward is ``None``. TRL's GRPO excludes a ``None`` reward from
  the loss, the right thing for a sample nobody judged;
- ``"neutral"``: the middle of the range, 0.5 (RewardBench scores a parse failure 0.5).
  Faces whose protocol takes only floats (OpenRLHF's ``/get_reward``, verl) use this
  unless told otherwise;
- ``"value"``: ``abstain_value``, e.g. 0.0 to punish outputs the judge cannot read.

A tie is evidence (balanced), so it maps like any probability: 0.5 under majority voting.

>>> from grm.types import Result
>>> r = Result(None, None, (0, 0), None, 0, 4, 0, 4, (), 0, 0, 0.0)
>>> result_reward(r, "pairwise") is None, result_reward(r, "pairwise", NEUTRAL)
(True, 0.5)
>>> s = Result(0, None, (1,), (8.0,), 0, 0, 0, 1, (), 0, 0, 0.0)
>>> round(result_reward(s, "pointwise", scale=(1.0, 10.0)), 4)
0.7778
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from grm.types import Result

OnAbstain = Literal["drop", "neutral", "value"]
ON_ABSTAIN: tuple[str, ...] = ("drop", "neutral", "value")
#: The default pointwise score range when a template names none (DeepSeek-GRM's 1-10).
DEFAULT_SCORE_RANGE: tuple[float, float] = (1.0, 10.0)


@dataclass(frozen=True)
class RewardMapConfig:
    """How a result becomes a reward in [0, 1]; see the module docstring."""

    on_abstain: OnAbstain = "drop"
    """A result without any verdict: 'drop' (None), 'neutral' (0.5) or 'value'
    (``abstain_value``)."""
    abstain_value: float = 0.0
    """The reward of a verdict-less result under ``on_abstain='value'``."""

    def __post_init__(self) -> None:
        if self.on_abstain not in ON_ABSTAIN:
            raise ValueError(
                f"on_abstain must be one of {', '.join(ON_ABSTAIN)}, got {self.on_abstain!r}; "
                "'drop' returns None, 'neutral' 0.5, 'value' abstain_value."
            )
        if not isinstance(self.abstain_value, (int, float)) or not math.isfinite(
            self.abstain_value
        ):
            raise ValueError(f"abstain_value must be a finite number, got {self.abstain_value!r}.")

    @property
    def float_only(self) -> bool:
        """Whether every result maps to a float (never None)."""
        return self.on_abstain != "drop"


#: The default: a verdict-less result earns None (TRL drops the sample).
DROP = RewardMapConfig()
#: For faces whose protocol takes only floats (OpenRLHF, verl): 0.5 for no verdict.
NEUTRAL = RewardMapConfig(on_abstain="neutral")


def score_range(template: Any) -> tuple[float, float]:
    """A template's pointwise score range: its ``low``/``high`` attributes, else 1-10."""
    low = float(getattr(template, "low", DEFAULT_SCORE_RANGE[0]))
    high = float(getattr(template, "high", DEFAULT_SCORE_RANGE[1]))
    if not high > low:
        raise ValueError(
            f"template {getattr(template, 'name', template)!r} has score range [{low}, {high}]; "
            "high must exceed low."
        )
    return low, high


def abstain_reward(config: RewardMapConfig = DROP) -> float | None:
    """What a result without any verdict earns under ``config``."""
    if config.on_abstain == "drop":
        return None
    return 0.5 if config.on_abstain == "neutral" else float(config.abstain_value)


def map_reward(
    kind: str,
    probability: float | None,
    scores: tuple[float, ...] | list[float] | None,
    no_verdict: bool,
    config: RewardMapConfig = DROP,
    scale: tuple[float, float] = DEFAULT_SCORE_RANGE,
    slot: int = 0,
) -> float | None:
    """The reward from a result's fields (pure; also used on a server's JSON summary).

    ``kind`` is 'pairwise' or 'pointwise'; ``scale`` the pointwise score range (low, high);
    ``slot`` the response the reward is for.
    """
    if no_verdict:
        return abstain_reward(config)
    if kind == "pairwise":
        if probability is None:  # an aggregator that gives no probability: no verdict
            return abstain_reward(config)
        if slot not in (0, 1):
            raise ValueError(f"a pairwise reward is for slot 0 or 1, got {slot}.")
        p = float(probability)
        return p if slot == 0 else 1.0 - p
    if kind != "pointwise":
        raise ValueError(f"kind must be 'pairwise' or 'pointwise', got {kind!r}.")
    if scores is None:
        return abstain_reward(config)
    if not 0 <= slot < len(scores):
        raise ValueError(f"slot {slot} is out of range for {len(scores)} scores.")
    low, high = scale
    return min(max((float(scores[slot]) - low) / (high - low), 0.0), 1.0)


def result_reward(
    result: Result,
    template: Any,
    config: RewardMapConfig = DROP,
    slot: int = 0,
    scale: tuple[float, float] | None = None,
) -> float | None:
    """The reward of response ``slot`` in ``result``, judged with ``template``.

    ``template`` is a :class:`grm.templates.Template` (its ``kind`` and score range are
    read) or just the kind, 'pairwise' or 'pointwise' (then ``scale`` or 1-10).
    """
    if isinstance(template, str):
        kind, rng = template, scale or DEFAULT_SCORE_RANGE
    else:
        kind, rng = template.kind, scale or score_range(template)
    return map_reward(kind, result.probability, result.scores, result.no_verdict, config, rng, slot)
