"""TRL reward functions backed by a grm judge (``GRPOTrainer(reward_funcs=[...])``).

TRL's contract (``GRPOTrainer._calculate_rewards`` in TRL 1.16): the trainer calls
``reward_func(prompts=..., completions=..., completion_ids=..., **kwargs)`` where kwargs hold
every dataset column (one value per completion), ``trainer_state``, ``log_extra`` and
``log_metric``; it expects one ``float | None`` per completion (None drops the sample from
that reward). Completions are strings, or message lists for conversational data. The
``num_generations`` completions of a prompt arrive consecutively, so one call can judge each
group together. An ``async def __call__`` runs on TRL's event loop, concurrently with other
async rewards.

Example:
    >>> from grm import RewardModel                                        # doctest: +SKIP
    >>> from grm.adapters.trl import make_trl_reward                       # doctest: +SKIP
    >>> reward = make_trl_reward(RewardModel.load(), mode="group", k=2)    # doctest: +SKIP
    >>> trainer = GRPOTrainer(model, reward_funcs=[reward], args=...)      # doctest: +SKIP

Modes: ``pointwise`` scores each completion alone (1-10 mapped to [0, 1]); ``reference``
compares each completion with the dataset column ``reference_column`` (P(completion is
better)); ``group`` ranks each prompt's group (see :mod:`grm.ranking`) and turns the ranking
into rewards with a group reward (win rate, centred rating, rank). Empty completions are
not judged (a judge cannot read nothing): they get ``empty_reward``.

No made-up rewards: a completion whose judgement failed (the engine failed during the
call, or, under the default reward policy, every chain abstained) gets ``None``, which TRL
turns into NaN and leaves out of the loss (``GRPOTrainer._calculate_rewards``: "Convert
None values to NaN"; a completion every reward function scored None carries no signal).
Each failure is logged and counted in the ``<prefix>/failed_rate`` and
``<prefix>/none_rate`` metrics.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from grm.config import JudgeConfig, check_option_names
from grm.judge import EngineError
from grm.ranking import (
    RankConfig,
    RankItem,
    get_group_reward,
    get_method,
    rank_items,
    reference_rewards,
)
from grm.reward_map import DROP, RewardMapConfig, result_reward
from grm.templates import get_template
from grm.types import JudgeRequest, Prompt, Result, prompt_text, response_text

logger = logging.getLogger(__name__)

Mode = Literal["pointwise", "reference", "group", "pair"]
MODES: tuple[str, ...] = ("pointwise", "reference", "group", "pair")


@dataclass(frozen=True)
class TRLRewardConfig:
    """How a grm judge becomes a TRL reward function."""

    mode: Mode = "group"
    """'pointwise', 'reference' (against a dataset column), 'group' (rank each group) or
    'pair' (TRL's experimental OnlineDPOTrainer: completion i against i + B)."""
    k: int | str = 2
    """Chains per judgment (or 'auto' where the judge supports adaptive k)."""
    method: str = "round_robin"
    """group: the ranking method (see grm.ranking.method_names())."""
    group_reward: str = "win_rate"
    """group: how a ranking becomes rewards (see grm.ranking.group_reward_names())."""
    reference_column: str = "reference"
    """reference: the dataset column with the reference answer of each row."""
    num_generations: int | None = None
    """group: completions per prompt; None splits the batch into runs of equal prompts."""
    empty_reward: float | None = 0.0
    """Reward for an empty completion, which is not judged (None drops it)."""
    rank: RankConfig = field(default_factory=lambda: RankConfig(bootstrap=0))
    """group: ranking options (bootstrap intervals are off: rewards need no intervals)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Judge overrides for every call (max_tokens, temperature, aggregator, ...)."""
    metric_prefix: str = "grm"
    """Prefix of the metrics sent through TRL's ``log_metric``."""
    name: str | None = None
    """Name TRL shows for this reward; None: 'grm_<mode>'."""
    reward: RewardMapConfig = field(default_factory=RewardMapConfig)
    """pointwise / reference: how a result becomes a reward (grm.reward_map); by default a
    judgment without any verdict is None, which TRL drops from the loss."""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}.")
        if self.k != "auto" and (
            not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1
        ):
            raise ValueError(f"k must be an integer >= 1 or 'auto', got {self.k!r}.")
        if self.num_generations is not None and self.num_generations < 1:
            raise ValueError(
                f"num_generations must be >= 1 or None (infer), got {self.num_generations}."
            )
        get_method(self.method)  # raise with the list of names
        get_group_reward(self.group_reward)
        check_option_names(JudgeConfig, self.overrides, "override")  # a typo fails here


def split_groups(prompts: Sequence[Prompt], num_generations: int | None) -> list[list[int]]:
    """Indices of each group: fixed-size chunks, or runs of equal prompts.

    >>> split_groups(["a", "a", "b", "b", "a"], None)
    [[0, 1], [2, 3], [4]]
    >>> split_groups(["a", "a", "b", "b"], 2)
    [[0, 1], [2, 3]]
    """
    n = len(prompts)
    if num_generations is not None:
        if n % num_generations:
            raise ValueError(
                f"{n} completions do not split into groups of num_generations="
                f"{num_generations}; pass the trainer's num_generations or None to infer."
            )
        return [list(range(i, i + num_generations)) for i in range(0, n, num_generations)]
    groups: list[list[int]] = []
    last: str | None = None
    for i, p in enumerate(prompts):
        text = prompt_text(p)
        if groups and text == last:
            groups[-1].append(i)
        else:
            groups.append([i])
        last = text
    return groups


def unit_score(result: Result, low: float = 1.0, high: float = 10.0) -> float | None:
    """A lone pointwise score mapped to [0, 1]; None when every chain abstained.

    Kept for callers of the old helper: it is :func:`grm.reward_map.result_reward` with the
    default ('drop') policy.
    """
    return result_reward(result, "pointwise", scale=(low, high))


class GRMReward:
    """A TRL ``reward_funcs`` entry: call it like TRL does, get one reward per completion."""

    def __init__(self, judge: Any, config: TRLRewardConfig | None = None) -> None:
        self._judge_obj = judge
        self._spec: dict[str, Any] | None = getattr(judge, "load_spec", None)
        self.config = config or TRLRewardConfig()
        self.__name__ = self.config.name or f"grm_{self.config.mode}"
        # Engines are not thread-safe; the async variant and servers may call from threads.
        self._lock = threading.RLock()

    @property
    def judge(self) -> Any:
        """The judge; after unpickling, loaded on first use from its load arguments."""
        if self._judge_obj is None:
            from grm import RewardModel

            with self._lock:
                if self._judge_obj is None:
                    logger.info("Loading the grm judge in this process: %s", self._spec)
                    self._judge_obj = RewardModel.load(**(self._spec or {}))
        return self._judge_obj

    @judge.setter
    def judge(self, value: Any) -> None:
        self._judge_obj = value
        self._spec = getattr(value, "load_spec", None)

    def __getstate__(self) -> dict[str, Any]:
        """TRL's async GRPO pickles reward functions into its rollout process: the loaded
        model stays here and the other process loads the judge again from ``load_spec``."""
        if self._spec is None:
            raise TypeError(
                "this grm reward holds a judge built in memory, which cannot be sent to "
                "another process; build it with make_trl_reward(model=..., engine=...) or "
                "from RewardModel.load(...), so the other process can load it again."
            )
        state = dict(self.__dict__)
        state["_judge_obj"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __call__(
        self,
        prompts: Sequence[Prompt],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        rewards, stats = self.compute(prompts, completions, kwargs)
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        if callable(log_metric):
            for name, value in stats.items():
                log_metric(f"{self.config.metric_prefix}/{name}", value)
        return rewards

    def compute(
        self, prompts: Sequence[Prompt], completions: Sequence[Any], columns: dict[str, Any]
    ) -> tuple[list[float | None], dict[str, float]]:
        """Rewards and the batch's judge statistics (abstention rate, chains, k, seconds)."""
        if len(prompts) != len(completions):
            raise ValueError(
                f"prompts has {len(prompts)} items and completions {len(completions)}; TRL "
                "passes one prompt per completion."
            )
        start = time.perf_counter()
        texts = [response_text(c) for c in completions]
        rewards: list[float | None] = [self.config.empty_reward] * len(texts)
        live = [i for i, t in enumerate(texts) if t.strip()]
        failed = 0
        with self._lock:
            try:
                results = self._judge(prompts, texts, live, columns, rewards)
            except EngineError as err:
                # Chains sampled before the failure are no judgement: None, never a guess.
                logger.warning(
                    "grm could not judge %d completions (rewards None, left out of the loss): %s",
                    len(live),
                    err,
                )
                for i in live:
                    rewards[i] = None
                results, failed = [], len(live)
        chains = sum(r.k_used for r in results)
        abstained = sum(r.abstentions for r in results)
        stats = {
            "abstention_rate": abstained / chains if chains else 0.0,
            "chains_per_completion": chains / max(len(texts), 1),
            "k_used": chains / len(results) if results else 0.0,
            "empty_rate": 1.0 - len(live) / max(len(texts), 1),
            "none_rate": sum(r is None for r in rewards) / max(len(rewards), 1),
            "failed_rate": failed / max(len(texts), 1),
            "judge_seconds": time.perf_counter() - start,
        }
        return rewards, stats

    def _judge(
        self,
        prompts: Sequence[Prompt],
        texts: list[str],
        live: list[int],
        columns: dict[str, Any],
        rewards: list[float | None],
    ) -> list[Result]:
        cfg = self.config
        if not live:
            return []
        if cfg.mode == "pointwise":
            template = getattr(self.judge, "pointwise_template", "pointwise")
            reqs = [JudgeRequest(prompts[i], (texts[i],)) for i in live]
            results = self.judge.score_batch(reqs, cfg.k, **cfg.overrides)
            for i, res in zip(live, results, strict=True):
                rewards[i] = result_reward(res, template, cfg.reward)
            return list(results)
        if cfg.mode == "reference":
            if cfg.reference_column not in columns:
                raise ValueError(
                    f"mode='reference' reads the dataset column {cfg.reference_column!r}, which "
                    f"the batch lacks (columns: {sorted(columns)}); set reference_column."
                )
            refs = columns[cfg.reference_column]
            got, results = reference_rewards(
                self.judge,
                [prompts[i] for i in live],
                [texts[i] for i in live],
                [str(refs[i]) for i in live],
                cfg.k,
                reward=cfg.reward,
                **cfg.overrides,
            )
            for i, r in zip(live, got, strict=True):
                rewards[i] = r
            return results
        if cfg.mode == "pair":
            return self._pairs(prompts, texts, rewards)
        whole = whole_groups(prompts, cfg.num_generations)
        alive = set(live)
        groups = [[i for i in g if i in alive] for g in whole]
        groups = [g for g in groups if g]
        items = [RankItem(prompts[g[0]], tuple(texts[i] for i in g)) for g in groups]
        rankings = rank_items(self.judge, items, cfg.method, cfg.k, cfg.rank, **cfg.overrides)
        to_rewards = get_group_reward(cfg.group_reward)
        for g, ranking in zip(groups, rankings, strict=True):
            for i, r in zip(g, to_rewards(ranking), strict=True):
                rewards[i] = r
        return [res for ranking in rankings for res in ranking.results]

    def _pairs(
        self, prompts: Sequence[Prompt], texts: list[str], rewards: list[float | None]
    ) -> list[Result]:
        """OnlineDPOTrainer's call: ``prompts = 2 * batch`` and completion i (first sample)
        faces completion i + B (second sample). Reward P(i wins) and 1 - P(i wins); an
        empty completion loses to a non-empty one without a judgment."""
        n = len(texts)
        half = n // 2
        if n % 2 or any(
            prompt_text(prompts[i]) != prompt_text(prompts[i + half]) for i in range(half)
        ):
            raise ValueError(
                "mode='pair' expects OnlineDPOTrainer's call: prompts = 2 x the batch, with "
                "completion i and i + B answering the same prompt; for GRPO use mode='group'."
            )
        both = [i for i in range(half) if texts[i].strip() and texts[i + half].strip()]
        for i in range(half):
            if i not in both and (texts[i].strip() or texts[i + half].strip()):
                rewards[i] = 1.0 if texts[i].strip() else self.config.empty_reward
                rewards[i + half] = 1.0 if texts[i + half].strip() else self.config.empty_reward
        if not both:
            return []
        reqs = [JudgeRequest(prompts[i], (texts[i], texts[i + half])) for i in both]
        results = self.judge.compare_batch(reqs, self.config.k, **self.config.overrides)
        for i, res in zip(both, results, strict=True):
            # No verdict is no evidence: None for both (unless the reward policy states a value).
            p = result_reward(res, "pairwise", self.config.reward)
            rewards[i], rewards[i + half] = (None, None) if p is None else (p, 1.0 - p)
        return list(results)


def whole_groups(prompts: Sequence[Prompt], num_generations: int | None) -> list[list[int]]:
    """The groups of one reward call, refusing a group that is not whole.

    TRL computes rewards on each process's slice of the generation batch and gathers them
    afterwards (``GRPOTrainer._calculate_rewards``), so a prompt's ``num_generations``
    completions can be split between processes when the slice is not a multiple of it. A
    group judge must see whole groups: with ``num_generations`` set, a slice that does not
    divide into groups of equal prompts is refused; without it, a run of equal prompts at
    either end whose length is not a multiple of the usual group size is refused. Either
    way the error says how to make each process's slice whole groups.
    """
    fix = (
        "each process must hold whole groups: make per_device_train_batch_size x "
        "steps_per_generation a multiple of num_generations, or use mode='pointwise' or "
        "'reference', which judge each completion alone."
    )
    if num_generations is not None and len(prompts) % num_generations:
        raise ValueError(
            f"{len(prompts)} completions do not split into groups of num_generations="
            f"{num_generations}: a group spans processes; {fix}"
        )
    groups = split_groups(prompts, num_generations)
    if num_generations is not None:
        for g in groups:
            if len({prompt_text(prompts[i]) for i in g}) > 1:
                raise ValueError(
                    f"completions {g[0]}..{g[-1]} should answer one prompt but answer several: "
                    f"the groups are not aligned on this process; {fix}"
                )
        return groups
    sizes = [len(g) for g in groups]
    half = len(prompts) // 2
    if (
        len(groups) > 1
        and len(prompts) % 2 == 0
        and max(sizes) == 1
        and all(prompt_text(prompts[i]) == prompt_text(prompts[i + half]) for i in range(half))
    ):
        raise ValueError(
            "every prompt appears twice, half a batch apart: this is OnlineDPOTrainer's call "
            "(prompts = 2 x batch); use mode='pair'."
        )
    # The usual group size: the most common run length (the smallest on a tie); a repeated
    # prompt makes a run of a multiple of it, a cut group a run that is not.
    counts = {n: sizes.count(n) for n in sizes}
    usual = min(n for n in counts if counts[n] == max(counts.values()))
    if len(groups) > 1 and (sizes[0] % usual or sizes[-1] % usual):
        raise ValueError(
            f"the groups here have sizes {sizes}: the first or last is cut short, so a group "
            f"spans processes; pass num_generations, and {fix}"
        )
    return groups


class AsyncGRMReward(GRMReward):
    """The async variant: TRL awaits it on its event loop, beside other async rewards; the
    judging runs in a worker thread so the loop stays free."""

    async def __call__(  # type: ignore[override]
        self,
        prompts: Sequence[Prompt],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        call = super().__call__
        return await asyncio.to_thread(call, prompts, completions, completion_ids, **kwargs)


def make_trl_reward(
    judge: Any = None,
    mode: Mode = "group",
    asynchronous: bool = False,
    model: str | None = None,
    engine: str = "auto",
    **config: Any,
) -> GRMReward:
    """A TRL reward function from a judge (a :class:`grm.RewardModel`; None loads ``model``
    with ``engine``, the embedded default when ``model`` is None). Keywords set
    :class:`TRLRewardConfig` fields; unknown ones are judge overrides (max_tokens, ...)."""
    known = set(TRLRewardConfig.__dataclass_fields__)
    overrides = {
        **config.pop("overrides", {}),
        **{k: config.pop(k) for k in list(config) if k not in known},
    }
    cfg = TRLRewardConfig(mode=mode, overrides=overrides, **config)
    if judge is None:
        from grm import RewardModel

        judge = RewardModel.load(model, engine=engine)
    return (AsyncGRMReward if asynchronous else GRMReward)(judge, cfg)


def _messages(item: Any, role: str) -> list[dict[str, Any]]:
    """A TRL prompt or completion as messages (a plain string becomes one message)."""
    if isinstance(item, str):
        return [{"role": role, "content": item}]
    return [dict(m) for m in item]


class TurnReward:
    """A TRL reward for multi-turn and agent rollouts, with per-turn credit and feedback.

    Each prompt's messages plus its completion's messages (assistant turns, tool calls and
    tool results) are judged as one conversation with the multi-turn template
    (:meth:`grm.RewardModel.score_turns_batch`, one batched pass). The reward is the overall
    score mapped to [0, 1] by :func:`grm.reward_map.result_reward` (None when every chain
    abstained, unless ``reward`` says otherwise). The completion's own turn
    scores (1-10) and the judge's directive feedback go to TRL's ``log_extra`` as the
    completion-table columns ``grm_turn_scores`` and ``grm_feedback``, and stay in
    ``last_turn_scores`` / ``last_feedback`` for trainers that assign credit per turn.
    """

    def __init__(
        self,
        judge: Any,
        k: int | str = 1,
        name: str = "grm_turns",
        *,
        template: str = "multiturn",
        reward: RewardMapConfig = DROP,
        **overrides: Any,
    ):
        self.judge, self.k, self.overrides = judge, k, overrides
        self.template = get_template(template)
        self.reward = reward
        self.__name__ = name
        self._lock = threading.Lock()
        self.last_turn_scores: list[tuple[float, ...] | None] = []
        self.last_feedback: list[str | None] = []

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        if len(prompts) != len(completions):
            raise ValueError(
                f"prompts has {len(prompts)} items and completions {len(completions)}; TRL "
                "passes one prompt per completion."
            )
        heads = [_messages(p, "user") for p in prompts]
        convs = [h + _messages(c, "assistant") for h, c in zip(heads, completions, strict=True)]
        with self._lock:
            try:
                scored = self.judge.score_turns_batch(
                    convs, self.k, template=self.template, **self.overrides
                )
            except EngineError as err:
                logger.warning(
                    "grm could not judge %d conversations (rewards None): %s", len(convs), err
                )
                self.last_turn_scores = [None] * len(convs)
                self.last_feedback = [None] * len(convs)
                return [None] * len(convs)
        rewards = [result_reward(s.result, self.template, self.reward) for s in scored]
        # Only the completion's turns: earlier assistant turns in the prompt are context.
        self.last_turn_scores = [
            None
            if s.turns is None
            else tuple(t for t, i in zip(s.turns, s.turn_messages, strict=True) if i >= len(h))
            for s, h in zip(scored, heads, strict=True)
        ]
        self.last_feedback = [s.result.feedback for s in scored]
        log_extra: Callable[[str, list[Any]], None] | None = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra("grm_turn_scores", [list(t) if t else None for t in self.last_turn_scores])
            log_extra("grm_feedback", list(self.last_feedback))
        return rewards
