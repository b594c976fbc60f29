"""The judge's config: one flat, validated dataclass.

Per-call options (``RewardModel.compare(..., temperature=0.3)``) go through
:meth:`JudgeConfig.with_`: an option that is not passed (or passed as :data:`UNSET`) keeps
the loaded value, while ``None`` is a value like any other, so ``temperature=None`` clears a
temperature set at load time (back to the template's). A misspelled option raises an error
that lists the valid names.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Final, Literal


class _Unset:
    """The type of :data:`UNSET`: "not given", as opposed to ``None``."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "UNSET"  # pickles as the module attribute: still the one instance


#: An option that was not given (keep the configured value); ``None`` is a value.
UNSET: Final[Any] = _Unset()


class UnknownOptionError(TypeError, ValueError):
    """An option name that is not a field of the config (a TypeError, as for a bad keyword,
    and a ValueError, as for any other bad setting)."""


def check_option_names(cls: type, names: Any, what: str = "option") -> None:
    """Raise :class:`UnknownOptionError` naming the unknown ``names`` and the valid ones."""
    valid = sorted(f.name for f in fields(cls))
    unknown = sorted(set(names) - set(valid))
    if unknown:
        import difflib

        hints = [
            f"{u!r} (did you mean {close[0]!r}?)" if close else repr(u)
            for u in unknown
            for close in [difflib.get_close_matches(u, valid, n=1)]
        ]
        raise UnknownOptionError(
            f"unknown {cls.__name__} {what}{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(hints)}; valid names: {', '.join(valid)}."
        )


#: Thought-switching words for TIP (Wang et al. 2025, arXiv:2501.18585): the paper's
#: "alternatively" family and common o1-style markers.
DEFAULT_TIP_WORDS: tuple[str, ...] = (
    "Alternatively",
    "Wait",
    "On the other hand",
    "Hmm",
    "However",
    "But wait",
)
OnUnparsed = Literal["force", "abstain"]
Forcing = Literal["inline", "pass"]
Overlong = Literal["truncate", "error"]


@dataclass(frozen=True)
class JudgeConfig:
    """How a judge samples, parses and aggregates chains. Every field can be set per call."""

    k: int | Literal["auto"] = 8
    """Chains per request (the test-time compute), or "auto": sample in waves until a
    stopping rule calls the request decided or it reaches max_k (see grm.adaptive)."""
    temperature: float | None = None
    """Sampling temperature; None takes the template's (DeepSeek-GRM used 0.5)."""
    top_p: float = 1.0
    """Nucleus sampling mass, in (0, 1]."""
    max_tokens: int = 256
    """Most tokens per chain; a chain cut here is forced or abstains (see on_unparsed)."""
    on_unparsed: OnUnparsed = "force"
    """'force': append the template's verdict prefix and read the verdict from next-token
    probabilities (greedy score list for pointwise); 'abstain': count the chain as an
    abstention."""
    forcing: Forcing = "pass"
    """How a pairwise chain that runs out of tokens is forced. 'pass': the chain keeps all
    max_tokens and is forced in a second batched pass that continues its token ids from the
    prefix cache. 'inline': an engine that can (vLLM) writes the verdict prefix into the
    chain while it is sampled, once only the prefix and one token still fit under
    max_tokens, and reads the verdict there: no second pass, but every chain of the call
    carries per-step log-probabilities (about 8% of sampling throughput on CPU), so it pays
    only when most chains are cut. Chains an engine did not force in-line, pointwise ones,
    and chains under a thinking budget (max_think_tokens) always take the pass."""
    aggregator: str | None = None
    """Registry name (see grm.aggregation); None: 'majority' pairwise, 'mean' pointwise."""
    position_balanced: bool = True
    """Pairwise: split the k chains across both response orders in the same batch."""
    shuffle: bool = True
    """Pointwise: show the responses in a fresh random order in each chain (DeepSeek-GRM)."""
    verdict_probs: bool = False
    """Read P(verdict) for parsed pairwise chains too (one more batched prefill)."""
    overlong: Overlong = "truncate"
    """A prompt over the context: 'truncate' the middle of the longest responses with a
    visible marker (recorded in the result), or raise 'error'."""
    seed: int = 0
    """Seed for orders, shuffles and sampling."""
    max_k: int = 16
    """k="auto": the most chains any request gets."""
    wave_size: int = 4
    """k="auto": chains per request in each wave (the first wave included)."""
    confidence: float = 0.95
    """k="auto": the stopping rule's target, in (0.5, 1)."""
    stopping: str | None = None
    """k="auto": stopping rule (see grm.stopping); None: 'beta' pairwise, 'score_diff'
    pointwise."""
    vote_prior: tuple[float, ...] | None = None
    """k="auto" with the 'bayes' rule: the judge's vote prior, weights over a grid of
    chance-right values (grm.vote_prior; a judge card's ``adaptive.vote_prior``); None: the
    default prior."""
    budget: int | None = None
    """k="auto": most chains for the whole batch, spent on the least-settled requests first;
    None: no limit beyond max_k per request."""
    max_think_tokens: int | None = None
    """Thinking budget per chain, verdict excluded: a chain still reasoning after this many
    tokens is closed and its verdict forced from next-token probabilities (whatever
    on_unparsed says); ``Chain.budget_hit`` reports it. None: max_tokens bounds the chain."""
    tip_alpha: float = 0.0
    """Thought-switch penalty (TIP, Wang et al. 2025) subtracted from the logits of the
    tip_words tokens early in each thought; 0 (the default) turns it off."""
    tip_beta: int = 64
    """TIP window: tokens after each switch word (and after the chain start) during which
    the penalty holds."""
    tip_words: tuple[str, ...] = DEFAULT_TIP_WORDS
    """Thought-switching words TIP penalises (their first token, with and without a leading
    space, in the loaded tokenizer)."""
    k_meta: int | None = None
    """With a meta RM loaded: chains kept (the best-rated) and voted over; None keeps half
    of the chains sampled, DeepSeek-GRM's default. Ignored without a meta RM."""

    def __post_init__(self) -> None:
        if self.k != "auto" and (
            not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1
        ):
            raise ValueError(
                f"k must be an integer >= 1 or 'auto', got {self.k!r}; use k=1 for one chain."
            )
        for name in ("max_k", "wave_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
        if not 0.5 < self.confidence < 1:
            raise ValueError(
                f"confidence must be in (0.5, 1), got {self.confidence}; 0.95 is the usual target."
            )
        if self.vote_prior is not None:
            from grm.vote_prior import prior_from

            object.__setattr__(self, "vote_prior", prior_from(self.vote_prior))
        if self.budget is not None and self.budget < 1:
            raise ValueError(f"budget must be >= 1 or None (no batch limit), got {self.budget}.")
        if self.stopping is not None:
            from grm.stopping import get_stopping_rule

            get_stopping_rule(self.stopping)  # raises with the list of names
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}.")
        if self.max_think_tokens is not None and not 1 <= self.max_think_tokens <= self.max_tokens:
            raise ValueError(
                f"max_think_tokens must be in [1, max_tokens={self.max_tokens}] or None, got "
                f"{self.max_think_tokens}; raise max_tokens for a longer thinking budget."
            )
        if self.tip_alpha < 0:
            raise ValueError(f"tip_alpha must be >= 0 (0 turns TIP off), got {self.tip_alpha}.")
        if not isinstance(self.tip_beta, int) or self.tip_beta < 1:
            raise ValueError(f"tip_beta must be an integer >= 1, got {self.tip_beta!r}.")
        if isinstance(self.tip_words, str) or not all(
            isinstance(w, str) and w.strip() for w in self.tip_words
        ):
            raise ValueError(
                f"tip_words must be a tuple of non-empty strings, got {self.tip_words!r}; "
                "e.g. ('Alternatively', 'Wait')."
            )
        object.__setattr__(self, "tip_words", tuple(self.tip_words))
        if self.k_meta is not None:
            if not isinstance(self.k_meta, int) or isinstance(self.k_meta, bool) or self.k_meta < 1:
                raise ValueError(
                    f"k_meta must be an integer >= 1 or None (half of the chains), "
                    f"got {self.k_meta!r}."
                )
            top = self.max_k if self.k == "auto" else self.k
            if self.k_meta > top:
                raise ValueError(
                    f"k_meta={self.k_meta} exceeds the {top} chains sampled "
                    f"({'max_k' if self.k == 'auto' else 'k'}); lower k_meta or raise "
                    f"{'max_k' if self.k == 'auto' else 'k'}."
                )
        if self.on_unparsed not in ("force", "abstain"):
            raise ValueError(f"on_unparsed must be 'force' or 'abstain', got {self.on_unparsed!r}.")
        if self.forcing not in ("inline", "pass"):
            raise ValueError(f"forcing must be 'inline' or 'pass', got {self.forcing!r}.")
        if self.overlong not in ("truncate", "error"):
            raise ValueError(f"overlong must be 'truncate' or 'error', got {self.overlong!r}.")
        if self.aggregator is not None:
            from grm.aggregation import get_aggregator

            get_aggregator(self.aggregator)  # raises with the list of names

    @classmethod
    def from_options(cls, **options: Any) -> JudgeConfig:
        """Build from keyword options; UNSET ones take the default, unknown names raise."""
        check_option_names(cls, options)
        return cls(**{k: v for k, v in options.items() if v is not UNSET})

    def with_(self, **overrides: Any) -> JudgeConfig:
        """A copy with the given overrides applied (and validated).

        ``UNSET`` keeps a field as it is; ``None`` is applied like any value. Unknown names
        raise :class:`UnknownOptionError` listing the valid ones.
        """
        check_option_names(type(self), overrides)
        given = {k: v for k, v in overrides.items() if v is not UNSET}
        return replace(self, **given) if given else self
