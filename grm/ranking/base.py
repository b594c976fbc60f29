"""Ranking types: the config, the outcome, the judge it needs, and the method registry."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from grm.ranking.bradley_terry import DEFAULT_L2
from grm.registry import Registry
from grm.types import JudgeRequest, Prompt, Result, response_text

Rating = Literal["bt", "elo"]


@dataclass(frozen=True)
class RankConfig:
    """How many candidates are ranked. Every field has a default; all are validated."""

    rating: Rating = "bt"
    """round_robin: 'bt' fits Bradley-Terry ratings (log-strengths); 'elo' runs online Elo
    averaged over shuffled game orders (Elo points)."""
    max_pairs: int | None = None
    """round_robin: judge at most this many pairs per group (a seeded, connected subset);
    None judges all N(N-1)/2."""
    l2: float = DEFAULT_L2
    """Bradley-Terry L2 weight; keeps an unbeaten candidate's rating finite."""
    bootstrap: int = 200
    """round_robin with 'bt': bootstrap resamples for the confidence intervals; 0 skips them."""
    ci_level: float = 0.95
    """Coverage of the bootstrap intervals, in (0, 1)."""
    shuffle_bracket: bool = True
    """knockout: seed the bracket in a random (seeded) order, so who meets whom does not
    follow the candidates' input order."""
    pointwise_aggregator: str = "sum"
    """pointwise: how chain scores combine; DeepSeek-GRM sums them over chains."""
    seed: int = 0
    """Seed for the bracket, the pair subset, the bootstrap and knockout tie-breaks."""

    def __post_init__(self) -> None:
        if self.rating not in ("bt", "elo"):
            raise ValueError(f"rating must be 'bt' or 'elo', got {self.rating!r}.")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ValueError(f"max_pairs must be >= 1 or None (every pair), got {self.max_pairs}.")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}; use a small value like 0.05.")
        if self.bootstrap < 0:
            raise ValueError(
                f"bootstrap must be >= 0 (0 skips the intervals), got {self.bootstrap}."
            )
        if not 0 < self.ci_level < 1:
            raise ValueError(f"ci_level must be in (0, 1), got {self.ci_level}.")
        from grm.aggregation import get_aggregator

        get_aggregator(self.pointwise_aggregator)  # raises with the list of names


@dataclass(frozen=True)
class RankItem:
    """One group to rank: a prompt, its candidates, an optional reference answer."""

    prompt: Prompt
    candidates: tuple[str, ...]
    reference: str | None = None

    def __post_init__(self) -> None:
        cands = tuple(response_text(c) for c in self.candidates)
        object.__setattr__(self, "candidates", cands)
        if not cands:
            raise ValueError("candidates is empty; pass at least one candidate to rank.")
        for i, c in enumerate(cands):
            if not c.strip():
                raise ValueError(
                    f"candidates[{i}] is empty; drop it or give it the lowest reward yourself "
                    "(the reward adapters do this)."
                )


@dataclass(frozen=True)
class Ranking:
    """The outcome of ranking one group.

    ``scores`` are per candidate, higher is better: summed 1-10 scores (pointwise), rounds
    survived (knockout), or centred ratings (round_robin: Bradley-Terry log-strengths or Elo
    points). ``win_rate`` is each candidate's share of chain votes in the games it played
    (ties half; pointwise: the share of other candidates it outscored). ``results[i]`` is
    the judge's result on ``pairs[i]`` (pointwise: one result, no pairs).
    """

    method: str
    scores: tuple[float, ...]
    order: tuple[int, ...]
    win_rate: tuple[float, ...]
    results: tuple[Result, ...]
    pairs: tuple[tuple[int, int], ...]
    rounds: int
    ci: tuple[tuple[float, float], ...] | None = None
    tiebreaks: int = 0
    seconds: float = 0.0

    @property
    def best(self) -> int:
        return self.order[0]

    @property
    def comparisons(self) -> int:
        return len(self.pairs)

    @property
    def chains(self) -> int:
        return sum(r.k_used for r in self.results)

    @property
    def abstentions(self) -> int:
        return sum(r.abstentions for r in self.results)

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.results)

    @property
    def completion_tokens(self) -> int:
        return sum(r.completion_tokens for r in self.results)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict without the chain texts."""
        return {
            "method": self.method,
            "scores": [round(s, 4) for s in self.scores],
            "order": list(self.order),
            "win_rate": [round(w, 4) for w in self.win_rate],
            "ci": [list(c) for c in self.ci] if self.ci is not None else None,
            "pairs": [list(p) for p in self.pairs],
            "comparisons": self.comparisons,
            "rounds": self.rounds,
            "chains": self.chains,
            "abstentions": self.abstentions,
            "tiebreaks": self.tiebreaks,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "seconds": round(self.seconds, 3),
        }


class Judge(Protocol):
    """What the sync runner needs: RewardModel's batched compare and score."""

    def compare_batch(
        self, requests: Sequence[Any], k: Any = None, **overrides: Any
    ) -> list[Result]: ...

    def score_batch(
        self, requests: Sequence[Any], k: Any = None, **overrides: Any
    ) -> list[Result]: ...


@dataclass(frozen=True)
class JudgeCall:
    """One batched judgement a ranking round asks for: every comparison (``compare``) or
    listwise scoring (``score``) of that round in every group, answered with one result per
    request, in order."""

    mode: Literal["compare", "score"]
    requests: tuple[JudgeRequest, ...]
    k: Any
    overrides: dict[str, Any] = field(default_factory=dict)


#: A method's steps: yields a JudgeCall per round, is sent its results, returns the rankings.
RankSteps = Generator[JudgeCall, list[Result], list[Ranking]]
#: A method ranks many groups; each of its rounds is ONE batched judge call over all groups.
#: It never calls the judge itself (sans-IO, as grm.driver's wave steps), so the same steps
#: run on the sync judge (:func:`grm.ranking.run_steps`) or are awaited on the async one
#: (:func:`grm.ranking.arun_steps`, the server).
RankMethod = Callable[[Sequence[RankItem], Any, RankConfig, dict[str, Any]], RankSteps]
RANK_METHODS: Registry[RankMethod] = Registry("ranking method")


def register_method(name: str, replace: bool = False) -> Callable[[RankMethod], RankMethod]:
    return RANK_METHODS.register(name, replace=replace)


def method_names() -> list[str]:
    return RANK_METHODS.names()


def get_method(name: str) -> RankMethod:
    return RANK_METHODS.get(name)
