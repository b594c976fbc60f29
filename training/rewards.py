"""GRPO rewards for training a judge: pure functions, and their TRL ``reward_funcs`` adapters.

The pure functions take parsed verdicts and numbers, never text or tensors:

- :func:`verdict_reward`: +1 for the right verdict, -1 for a wrong one (RM-R1, RRM); a chain
  with no parsable verdict gets the wrong-verdict value, so failing to answer never pays.
- :func:`verified_reward`: +1 only for the right verdict reached by the rule's own steps (the
  chain states the pair's rule chain, whitespace aside), -1 otherwise: the reward form of
  ``rft.verify``, since about two right verdicts in five of a 135M judge's sampled chains come
  from a wrong step (docs/benchmarks.md, "RFT on verified chains").
- :func:`swap_consistency_rewards`: J1 (Whitehouse et al. 2025) rewards a verdict only if it
  is right in both response orders.
- :func:`pointwise_reward`: DeepSeek-GRM (Liu et al. 2025): +1 when the preferred response's
  score is strictly the highest, -1 otherwise (ties included).
- :func:`format_reward`: 1 when the chain ends in the template's verdict format.
- ``overlong``: DAPO's soft over-length punishment (Yu et al. 2025, Eq. 13), 0 up to
  ``max_length - buffer`` tokens, then linear down to -1 at ``max_length``: TRL's own
  ``trl.rewards.get_soft_overlong_punishment``, registered here with the buffer set.

The other rewards stay here because TRL has none that does their job: its ``accuracy_reward``
verifies a math answer against a gold solution and ``think_format_reward`` checks ``<think>``
tags, while these score a judge's parsed verdict (in any registered template's format) against
the known better response, in one or both response orders.

:func:`make_reward_funcs` wraps them for ``trl.GRPOTrainer`` (called with ``prompts``,
``completions``, ``completion_ids`` and every dataset column), and logs per step the
accuracy, the parse-failure rate and the chain length through TRL's ``log_metric``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from grm.training.rft_select import same_steps

from grm.parsing import Parsed
from grm.registry import Registry
from grm.templates import Template, get_template
from grm.types import response_text


def verdict_reward(
    winner: int | None, preferred: int, right: float = 1.0, wrong: float = -1.0
) -> float:
    """+1 when the chain's winner (a slot) is the preferred slot, -1 when wrong or unparsed.

    >>> verdict_reward(1, 1), verdict_reward(0, 1), verdict_reward(None, 1)
    (1.0, -1.0, -1.0)
    """
    return right if winner is not None and winner == preferred else wrong


def verified_reward(winner: int | None, preferred: int, text: str, reference: str | None) -> float:
    """+1 when the verdict is right and ``text`` states ``reference``'s steps, else -1.

    >>> ref = "7 + 8 = 15. Final verdict: [[B]]"
    >>> verified_reward(1, 1, "7 + 8 = 15.  Final verdict: [[B]]", ref)
    1.0
    >>> verified_reward(1, 1, "7 + 8 = 16. Final verdict: [[B]]", ref)
    -1.0
    >>> verified_reward(0, 1, ref, ref), verified_reward(1, 1, ref, None)
    (-1.0, -1.0)
    """
    ok = winner is not None and winner == preferred and same_steps(text, reference)
    return 1.0 if ok else -1.0


def swap_consistency_rewards(
    correct: Sequence[bool], pair_ids: Sequence[int], orders: Sequence[Sequence[int]]
) -> list[float]:
    """J1's both-orders reward for each sample of a batch that holds both orders of a pair.

    J1 pays 1 only when the verdicts in both orders are right. With a group of samples per
    order, a sample's reward is the chance that it and a random sample of the mirrored order
    are both right: ``correct * (share of right samples in the other order)``. A pair whose
    other order is not in the batch falls back to the sample's own correctness.

    >>> swap_consistency_rewards([True, True, True, False], [0, 0, 0, 0],
    ...                          [(0, 1), (0, 1), (1, 0), (1, 0)])
    [0.5, 0.5, 1.0, 0.0]
    """
    if not len(correct) == len(pair_ids) == len(orders):
        raise ValueError("correct, pair_ids and orders must have the same length.")
    share: dict[tuple[int, tuple[int, ...]], list[bool]] = {}
    for c, pid, order in zip(correct, pair_ids, orders, strict=True):
        share.setdefault((pid, tuple(order)), []).append(bool(c))
    out = []
    for c, pid, order in zip(correct, pair_ids, orders, strict=True):
        mirror = share.get((pid, tuple(order)[::-1]))
        if not c:
            out.append(0.0)
        elif mirror is None:
            out.append(1.0)
        else:
            out.append(sum(mirror) / len(mirror))
    return out


def pointwise_reward(scores: Sequence[float] | None, preferred: int) -> float:
    """DeepSeek-GRM: +1 iff the preferred response's score is strictly the highest.

    >>> pointwise_reward([8, 3, 5], 0), pointwise_reward([8, 8, 5], 0), pointwise_reward(None, 0)
    (1.0, -1.0, -1.0)
    """
    if scores is None or not 0 <= preferred < len(scores):
        return -1.0
    best = scores[preferred]
    return 1.0 if all(best > s for i, s in enumerate(scores) if i != preferred) else -1.0


def format_reward(parsed: bool) -> float:
    """1 for a chain that ends in the template's verdict format, 0 otherwise.

    >>> format_reward(True), format_reward(False)
    (1.0, 0.0)
    """
    return 1.0 if parsed else 0.0


def parse_failure_rate(parsed: Sequence[Parsed | None]) -> float:
    """Share of chains with no verdict.

    >>> parse_failure_rate([None, Parsed(winner=0)])
    0.5
    """
    return sum(p is None for p in parsed) / len(parsed) if parsed else 0.0


# --- TRL adapters -------------------------------------------------------------------------

RewardFunc = Callable[..., list[float | None]]


def _texts(completions: Sequence[Any]) -> list[str]:
    return [response_text(c) for c in completions]


def _parse_all(template: Template, texts: Sequence[str], n: int = 2) -> list[Parsed | None]:
    return [template.parse(t, n) for t in texts]


def _winner_slots(parsed: Sequence[Parsed | None]) -> list[int | None]:
    out: list[int | None] = []
    for p in parsed:
        if p is None:
            out.append(None)
        elif p.winner is not None:
            out.append(p.winner)
        elif p.scores is not None:  # pointwise chain used for a pairwise reward: top score
            top = max(p.scores)
            out.append(p.scores.index(top) if list(p.scores).count(top) == 1 else None)
        else:
            out.append(None)
    return out


def _verdict(template: Template, max_completion_length: int) -> RewardFunc:
    def verdict(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        preferred_slot: Sequence[int],
        completion_ids: Sequence[Sequence[int]] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kw: Any,
    ) -> list[float | None]:
        parsed = _parse_all(template, _texts(completions))
        winners = _winner_slots(parsed)
        rewards = [verdict_reward(w, int(p)) for w, p in zip(winners, preferred_slot, strict=True)]
        if log_metric is not None:
            log_metric("judge/accuracy", sum(r > 0 for r in rewards) / len(rewards))
            log_metric("judge/parse_failure_rate", parse_failure_rate(parsed))
            if completion_ids is not None:
                lengths = [len(c) for c in completion_ids]
                log_metric("judge/chain_tokens", sum(lengths) / len(lengths))
        return list(rewards)

    return verdict


def _verified(template: Template, max_completion_length: int) -> RewardFunc:
    def verified(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        preferred_slot: Sequence[int],
        reference: Sequence[str | None] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **kw: Any,
    ) -> list[float | None]:
        if reference is None or all(r is None for r in reference):
            raise ValueError(
                "the 'verified' reward needs each row's rule chain (the 'reference' column): "
                "train on the verifiable tasks, or on labelled pairs with preference_chains "
                "set; otherwise use the 'verdict' reward."
            )
        texts = _texts(completions)
        winners = _winner_slots(_parse_all(template, texts))
        rewards = [
            verified_reward(w, int(p), t, r)
            for w, p, t, r in zip(winners, preferred_slot, texts, reference, strict=True)
        ]
        if log_metric is not None:
            log_metric("judge/verified_accuracy", sum(r > 0 for r in rewards) / len(rewards))
        return list(rewards)

    return verified


def _swap(template: Template, max_completion_length: int) -> RewardFunc:
    def swap_consistency(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        preferred_slot: Sequence[int],
        pair_id: Sequence[int],
        order: Sequence[Sequence[int]],
        log_metric: Callable[[str, float], None] | None = None,
        **kw: Any,
    ) -> list[float | None]:
        winners = _winner_slots(_parse_all(template, _texts(completions)))
        correct = [
            w is not None and w == int(p) for w, p in zip(winners, preferred_slot, strict=True)
        ]
        rewards = swap_consistency_rewards(correct, pair_id, order)
        if log_metric is not None:
            log_metric("judge/swap_consistent", sum(rewards) / len(rewards))
        return list(rewards)

    return swap_consistency


def _pointwise(template: Template, max_completion_length: int) -> RewardFunc:
    def pointwise(
        prompts: Sequence[Any],
        completions: Sequence[Any],
        preferred_slot: Sequence[int],
        order: Sequence[Sequence[int]],
        **kw: Any,
    ) -> list[float | None]:
        texts = _texts(completions)
        out: list[float | None] = []
        for text, p, o in zip(texts, preferred_slot, order, strict=True):
            parsed = template.parse(text, len(o))
            out.append(pointwise_reward(parsed.scores if parsed else None, int(p)))
        return out

    return pointwise


def _format(template: Template, max_completion_length: int) -> RewardFunc:
    def verdict_format(
        prompts: Sequence[Any], completions: Sequence[Any], **kw: Any
    ) -> list[float | None]:
        n = [len(o) for o in kw.get("order", [])] or [2] * len(completions)
        texts = _texts(completions)
        return [
            format_reward(template.parse(t, k) is not None) for t, k in zip(texts, n, strict=True)
        ]

    return verdict_format


def _overlong(template: Template, max_completion_length: int) -> RewardFunc:
    """TRL's soft over-length punishment with the last quarter of the budget as its buffer."""
    from trl.rewards import get_soft_overlong_punishment

    reward: RewardFunc = get_soft_overlong_punishment(
        max_completion_len=max_completion_length,
        soft_punish_cache=max(1, max_completion_length // 4),
    )
    return reward


#: Reward name -> factory(template, max_completion_length) of a TRL reward function.
REWARD_FUNCS: Registry[Callable[[Template, int], RewardFunc]] = Registry("reward")
for _name, _factory in (
    ("verdict", _verdict),
    ("verified", _verified),
    ("swap_consistency", _swap),
    ("pointwise", _pointwise),
    ("format", _format),
    ("overlong", _overlong),
):
    REWARD_FUNCS.register(_name, _factory)


def make_reward_funcs(
    template: str | Template, names: Sequence[str], max_completion_length: int
) -> list[RewardFunc]:
    """TRL ``reward_funcs`` for the named rewards (their weights go in GRPOConfig)."""
    tpl = get_template(template)
    factories = [REWARD_FUNCS.get(n) for n in names]  # an unknown name lists the known ones
    return [f(tpl, max_completion_length) for f in factories]
