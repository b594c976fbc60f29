"""Meta-RM training data from a judge's chains: label, split by pair, balance (pure helpers).

A chain is labelled 1 when its verdict names the preferred response of its pair, else 0.
Chains that abstain or call a tie are dropped: they cast no vote, so no rating of them can
change a vote. Forced verdicts (read from next-token probabilities after a cut chain) are
kept and labelled like any other: they vote, so the meta RM must learn to rate them.
DeepSeek-GRM (Liu et al. 2025, arXiv:2504.02495) trains its meta RM on such labels.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grm.calibration.metrics import roc_auc
from grm.training.data import request_of
from grm.training.tasks import TaskRow

from grm.meta import meta_text
from grm.types import JudgeRequest, Result


@dataclass(frozen=True)
class MetaExample:
    """One chain as a meta-RM training example."""

    text: str
    """:func:`grm.meta.meta_text` of the chain."""
    label: int
    """1: the chain's verdict names the preferred response; 0: it does not."""
    pair: int
    """Index of the pair the chain was sampled on (the split keeps pairs whole)."""
    forced: bool = False
    """The verdict was forced from next-token probabilities."""


def label_chains(
    requests: Sequence[JudgeRequest],
    results: Sequence[Result],
    preferred: Sequence[int],
    pair_offset: int = 0,
) -> list[MetaExample]:
    """One example per chain that voted; abstentions and ties are dropped (pure).

    A chain is right (label 1) when its winner is ``preferred[i]`` of its pair.
    """
    from grm.aggregation import chain_winner

    out = []
    for i, (req, res, pref) in enumerate(zip(requests, results, preferred, strict=True)):
        for c in res.chains:
            if c.judgment.abstained:
                continue
            w = chain_winner(c.judgment)
            if w is None:
                continue
            out.append(MetaExample(meta_text(req, c), int(w == pref), pair_offset + i, c.forced))
    return out


def split_by_pair(
    examples: Sequence[MetaExample], eval_fraction: float, seed: int = 0
) -> tuple[list[MetaExample], list[MetaExample]]:
    """Train and held-out examples, whole pairs on each side (pure, seeded).

    At least one pair lands on each side when there are two or more pairs.
    """
    pairs = sorted({e.pair for e in examples})
    random.Random(seed).shuffle(pairs)
    n_eval = min(max(1, round(eval_fraction * len(pairs))), max(len(pairs) - 1, 0))
    held = set(pairs[:n_eval])
    return [e for e in examples if e.pair not in held], [e for e in examples if e.pair in held]


def balance_classes(examples: Sequence[MetaExample], seed: int = 0) -> list[MetaExample]:
    """Drop random examples of the larger class until both classes are equal (pure, seeded).

    The kept examples stay in their original order. A set with one class only is returned
    unchanged (there is nothing to balance against).
    """
    pos = [i for i, e in enumerate(examples) if e.label == 1]
    neg = [i for i, e in enumerate(examples) if e.label == 0]
    if not pos or not neg:
        return list(examples)
    rng = random.Random(seed)
    n = min(len(pos), len(neg))
    keep = set(rng.sample(pos, n)) | set(rng.sample(neg, n))
    return [e for i, e in enumerate(examples) if i in keep]


def sample_examples(
    rm: Any, rows: Sequence[TaskRow], k: int, pair_offset: int = 0, **overrides: Any
) -> list[MetaExample]:
    """Sample ``k`` chains per row with the judge ``rm`` (one batched pass) and label them."""
    requests = [request_of(r) for r in rows]
    results = rm.compare_batch(requests, k=k, **overrides)
    return label_chains(requests, results, [r["preferred"] for r in rows], pair_offset)


def score_examples(scorer: Any, examples: Sequence[MetaExample]) -> list[float]:
    """The scorer's logit for every example (a :class:`grm.meta.ChainScorer`)."""
    return list(scorer.score_texts([e.text for e in examples]))


def heldout_metrics(scores: Sequence[float], labels: Sequence[int]) -> dict[str, float]:
    """ROC AUC, accuracy at logit 0, and the positive share of held-out examples (pure)."""
    n = len(labels)
    right = sum(int((s > 0) == bool(y)) for s, y in zip(scores, labels, strict=True))
    return {
        "auc": roc_auc(scores, labels),
        "accuracy": right / n if n else float("nan"),
        "positive_rate": sum(labels) / n if n else float("nan"),
        "n": float(n),
    }
