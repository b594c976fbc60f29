"""Which trained format a checkpoint speaks, from its name: offline, never a download.

``RewardModel.load("<hub id or local path>")`` looks the model up here when no template
is given. The name string is matched first; for a local directory, its ``config.json``
(``_name_or_path``, ``architectures``) is read too, so a renamed copy of a published
checkpoint is still recognised. A directory holding a ``grm_judge.json`` card (a bundled
judge's merged checkpoint, see grm.judges) names its own templates, and that wins (a relative
template-file path in it is read from the card's folder). An unknown
model gets grm's default templates, and the loader says so once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grm.templates.files import resolve_template_path

#: The card a grm-built checkpoint carries: its name, templates and decoding defaults.
JUDGE_CARD = "grm_judge.json"


@dataclass(frozen=True)
class KnownJudge:
    """A family of published checkpoints and the templates they were trained with."""

    pattern: str
    """Regular expression searched in the model name (case-insensitive)."""
    template: str
    """Template for pairwise judging (``compare``)."""
    pointwise_template: str
    """Template for scoring (``score``)."""
    family: str
    """What the checkpoints are, for the log line and the docs."""
    case_sensitive: bool = False
    """Match the pattern with case (J1's short name would match too much without)."""


#: Checked in order; the first match wins (RM-R1's two formats before anything broader).
KNOWN: tuple[KnownJudge, ...] = (
    KnownJudge(r"RM-R1.*Instruct", "rm-r1", "pointwise", "RM-R1 instruct (Qwen2.5-Instruct)"),
    KnownJudge(
        r"RM-R1.*(DeepSeek|Distill)", "rm-r1-reasoning", "pointwise", "RM-R1 reasoning-distilled"
    ),
    KnownJudge(r"(^|/)RRM-(7|32)B|Reward-Reasoning/", "rrm", "pointwise", "RRM (R1-distill)"),
    KnownJudge(r"JudgeLRM", "judgelrm", "judgelrm", "JudgeLRM (Qwen2.5-Instruct)"),
    KnownJudge(r"DeepSeek-GRM", "deepseek-grm", "deepseek-grm", "DeepSeek-GRM (Gemma-2)"),
    KnownJudge(
        r"prometheus", "prometheus-relative", "prometheus-absolute", "Prometheus 2 (Mistral)"
    ),
    KnownJudge(r"(^|[/_-])J1[-_]", "j1", "pointwise", "J1 (Llama / Qwen judges)", True),
)


@dataclass(frozen=True)
class Detected:
    """The detection result: the family and what it was read from."""

    judge: KnownJudge
    matched: str


def _names(model: str) -> list[str]:
    """The strings to match: the given name, and for a local directory its config's own
    ``_name_or_path`` (the checkpoint it was saved from)."""
    names = [model]
    config = Path(model) / "config.json"
    if config.is_file():
        try:
            data = json.loads(config.read_text())
        except (OSError, ValueError):
            data = {}
        origin = data.get("_name_or_path") if isinstance(data, dict) else None
        if isinstance(origin, str) and origin:
            names.append(origin)
    return names


def judge_card(model: str) -> dict[str, Any] | None:
    """The ``grm_judge.json`` card of a local checkpoint directory, or None."""
    path = Path(model) / JUDGE_CARD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a valid judge card ({err}); delete it or fix it.") from err
    if not isinstance(data, dict) or not isinstance(data.get("template"), str):
        raise ValueError(f"{path} must be a JSON object with a 'template' name; fix or delete it.")
    for key in ("template", "pointwise_template"):  # a template file next to the card
        if isinstance(data.get(key), str):
            data[key] = resolve_template_path(data[key], path.parent)
    return data


def detect(model: str) -> Detected | None:
    """The published judge ``model`` is, or None.

    >>> detect("gaotang/RM-R1-DeepSeek-Distilled-Qwen-7B").judge.template
    'rm-r1-reasoning'
    >>> detect("Qwen/Qwen2.5-7B-Instruct") is None
    True
    """
    card = judge_card(model)
    if card is not None:
        name = str(card.get("name", model))
        own = KnownJudge(
            re.escape(name),
            card["template"],
            str(card.get("pointwise_template", "pointwise")),
            f"grm judge {name}",
        )
        return Detected(own, str(Path(model) / JUDGE_CARD))
    for name in _names(model):
        for judge in KNOWN:
            if re.search(judge.pattern, name, 0 if judge.case_sensitive else re.I):
                return Detected(judge, name)
    return None
