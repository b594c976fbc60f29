"""``RewardModel``: the Python face of a generative judge.

>>> rm = RewardModel.load()                      # doctest: +SKIP
>>> v = rm.compare("2+2?", "4", "5", k=8)        # doctest: +SKIP
>>> v.label, v.votes, v.k_used                   # doctest: +SKIP
('A', (6, 2), 8)
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from grm.config import UNSET, JudgeConfig
from grm.driver import ChainWeigher, judge_batch
from grm.inference.base import AsyncEngine, Engine, load_engine
from grm.judge import EngineError
from grm.judges import resolve_model
from grm.progress import ChainProgress, Progress
from grm.ranking import RankConfig, Ranking, RankItem, arun_steps, rank_items, rank_steps
from grm.rows import read_row
from grm.templates import Template, get_template
from grm.templates.defaults import apply_decoding, budget_too_low, choose_templates
from grm.templates.detect import judge_card
from grm.types import Chain, JudgeRequest, Prompt, Result

if TYPE_CHECKING:
    from grm.calibration import Calibrator
    from grm.meta import ChainScorer
    from grm.templates.multiturn import TurnScores

logger = logging.getLogger(__name__)

RequestLike = JudgeRequest | dict[str, Any]
#: Pairs per engine pass when compare_batch shows a progress bar.
PROGRESS_BATCH = 64
#: Chains per request, or "auto" for adaptive k (waves until a stopping rule decides).
K = int | Literal["auto"]


#: Under ``engine="auto"`` on a machine without a GPU, a job known to need at most this many
#: chains runs on the transformers engine: vLLM-CPU spends about a minute starting (engine
#: process, model load, KV cache) before its first chain, while transformers is judging
#: within seconds and finishes such a job first (measured in docs/benchmarks.md, "Which
#: engine finishes a small job first").
SMALL_CPU_JOB_CHAINS = 64


def has_cuda() -> bool:
    """Whether torch sees a CUDA device (False when torch is not installed)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_engine_name(engine: str, job_chains: int | None = None) -> str:
    """'auto' means vLLM when it is installed, transformers otherwise; and transformers for a
    small job (``job_chains`` at most :data:`SMALL_CPU_JOB_CHAINS`) on a machine without a
    GPU, which it finishes before vLLM-CPU has started. An unknown size keeps vLLM (large
    jobs, servers)."""
    if engine != "auto":
        return engine
    if importlib.util.find_spec("vllm") is None:
        return "transformers"
    if job_chains is not None and job_chains <= SMALL_CPU_JOB_CHAINS and not has_cuda():
        return "transformers"
    return "vllm"


def as_request(item: RequestLike, index: int = 0) -> JudgeRequest:
    """Accept a JudgeRequest or a dict in any row shape :mod:`grm.rows` reads: prompt and
    responses, prompt/a/b, prompt/chosen/rejected (strings or conversations), JudgeBench's
    question/response_A/response_B, or an HH-RLHF transcript pair. The responses keep the
    row's order (chosen is A); a label in the row is not read."""
    if isinstance(item, JudgeRequest):
        return item
    if not isinstance(item, dict):
        raise TypeError(
            f"requests[{index}] must be a JudgeRequest or a dict, got {type(item).__name__}."
        )
    try:
        return read_row(item).request()
    except ValueError as exc:
        raise ValueError(f"requests[{index}]: {exc}") from None


def _calibrator_path(model: str | Path, calibrator: str | Path | bool | None) -> Path | None:
    """The calibrator file to apply: the one given, or the model directory's own."""
    if calibrator is False:
        return None
    if calibrator is None or calibrator is True:
        from grm.calibration import CALIBRATOR_FILE

        found = Path(model) / CALIBRATOR_FILE
        if found.is_file():
            return found
        if calibrator is True:
            raise FileNotFoundError(
                f"calibrator=True but {found} does not exist; run grm calibrate."
            )
        return None
    path = Path(calibrator)
    if not path.is_file():
        raise FileNotFoundError(f"calibrator file {path} does not exist; run grm calibrate.")
    return path


class RewardModel:
    """A generative reasoning judge: k chains of thought per request, aggregated.

    ``template`` judges pairs (:meth:`compare`); ``pointwise_template`` scores any number
    of responses (:meth:`score`). ``config`` holds the defaults every call can override.
    """

    def __init__(
        self,
        engine: Engine,
        template: str | Template = "default",
        pointwise_template: str | Template = "pointwise",
        config: JudgeConfig | None = None,
        model_path: str | None = None,
        calibrator: Calibrator | None = None,
        meta_rm: ChainScorer | None = None,
    ) -> None:
        self.engine = engine
        self.template = get_template(template)
        self.pointwise_template = get_template(pointwise_template)
        special = getattr(engine, "special_tokens", None)
        if callable(special):  # the loaded tokenizer's own special tokens are defused too
            tokens = list(special())
            self.template.with_special_tokens(tokens)
            self.pointwise_template.with_special_tokens(tokens)
        self.config = config or JudgeConfig()
        self._budget_warned: set[tuple[str, int]] = set()
        self.model_path = model_path
        self.calibrator = calibrator
        """Maps pairwise ``Result.probability`` to a calibrated one (see grm.calibration)."""
        self.calibrator_path: str | None = None
        self.meta_rm = meta_rm
        """Rates every chain of :meth:`compare_batch`; the top ``k_meta`` vote (grm.meta)."""
        self.load_spec: dict[str, Any] | None = None
        """The :meth:`load` arguments this judge came from (None when built in memory)."""

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        engine: str = "auto",
        template: str | Template | None = None,
        pointwise_template: str | Template | None = None,
        engine_options: dict[str, Any] | None = None,
        calibrator: str | Path | bool | None = None,
        meta_rm: str | Path | ChainScorer | None = None,
        meta_rm_options: dict[str, Any] | None = None,
        job_chains: int | None = None,
        **config: Any,
    ) -> RewardModel:
        """Load a judge.

        ``calibrator`` is a calibrator JSON file (from ``grm calibrate``); None uses the
        model directory's ``grm_calibration.json`` when there is one; False uses none.

        ``model`` is a local checkpoint directory, a hub id, or the name of a bundled judge
        (``grm.judges.judge_names()``, e.g. ``grm-judge-135m``: its adapter is merged into the
        embedded base once, into ``$GRM_CACHE_DIR``, and its template and decoding defaults
        apply); None uses the embedded default (SmolLM2-135M-Instruct, converted once into
        ``$GRM_CACHE_DIR``). ``engine`` is
        'vllm', 'transformers' or 'auto' (see :func:`resolve_engine_name`: ``job_chains``, the
        chains the caller's job will need when it knows, lets a small job on a CPU run on
        transformers). ``engine_options`` go to the engine (for vLLM, on
        to ``vllm.LLM``). Other keywords set :class:`JudgeConfig` defaults (``k_meta`` among
        them).

        ``meta_rm`` is a meta reward model directory (from ``grm train-meta``) or a loaded
        scorer: pairwise results are then voted over the ``k_meta`` chains it rates best
        (DeepSeek-GRM's meta-RM guided voting). ``meta_rm_options`` go to
        :class:`grm.inference.meta_rm.MetaRMConfig` (batch_size, threads, device, ...).
        """
        requested = model
        model = resolve_model(model)
        pair_tpl, point_tpl = choose_templates(model, template, pointwise_template)
        config = {k: v for k, v in config.items() if v is not UNSET}
        card = judge_card(model)
        if card is not None:  # the judge's own decoding and k="auto" defaults; explicit win
            config = {**card.get("decoding", {}), **card.get("adaptive", {}), **config}
        JudgeConfig.from_options(**config)  # fail on bad options before a slow model load
        name = resolve_engine_name(engine, job_chains)
        logger.info("Loading %s with the %s engine", model, name)
        cal_path = _calibrator_path(model, calibrator)
        scorer: ChainScorer | None = None
        if isinstance(meta_rm, (str, Path)):
            from grm.inference.meta_rm import MetaRM, MetaRMConfig

            scorer = MetaRM(MetaRMConfig(str(meta_rm), **(meta_rm_options or {})))
            logger.info("Meta-RM guided voting with %s", meta_rm)
        elif meta_rm is not None:
            scorer = meta_rm
        backend = load_engine(name, str(model), **(engine_options or {}))
        judge_config = JudgeConfig.from_options(
            **apply_decoding(pair_tpl, config, backend.max_context)
        )
        rm = cls(backend, pair_tpl, point_tpl, judge_config, str(model), meta_rm=scorer)
        rm.check_budget(rm.template, judge_config.max_tokens)
        # How to load this judge again in another process (TRL's async GRPO pickles rewards).
        rm.load_spec = {
            "model": str(model) if requested is None else str(requested),
            "engine": engine,
            "template": template,
            "pointwise_template": pointwise_template,
            "engine_options": dict(engine_options or {}),
            "calibrator": calibrator if calibrator in (None, True, False) else str(calibrator),
            "meta_rm": str(meta_rm) if isinstance(meta_rm, (str, Path)) else None,
            "meta_rm_options": dict(meta_rm_options or {}),
            **config,
        }
        if meta_rm is not None and scorer is meta_rm:  # a scorer object: not re-loadable
            rm.load_spec = None
        if cal_path is not None:
            from grm.calibration import load_calibrator

            rm.calibrator = load_calibrator(cal_path)
            rm.calibrator_path = str(cal_path)
            logger.info("Applying the calibrator in %s", cal_path)
        return rm

    def _calibrate(self, results: list[Result]) -> list[Result]:
        """Pass each pairwise probability through the calibrator (``calibrated=True``)."""
        if self.calibrator is None:
            return results
        return [
            replace(r, probability=self.calibrator(r.probability), calibrated=True)
            if r.probability is not None
            else r
            for r in results
        ]

    def _judge_pairs(self, reqs: list[JudgeRequest], cfg: JudgeConfig) -> list[Result]:
        """The pairwise path: drive the waves, then finish every result in one place.

        Finishing (the meta-RM vote, then calibration) applies to the results an
        :class:`EngineError` recovered as well, so they read like any other result.
        """
        try:
            results = judge_batch(self.engine, self.template, reqs, cfg, self._weigher())
        except EngineError as err:
            if err.results is not None:
                err.results = self._finish(err.results, reqs, cfg)
            raise
        return self._finish(results, reqs, cfg)

    def _weigher(self) -> ChainWeigher | None:
        """The meta RM's chain rating for the stopping rule, when one is loaded."""
        scorer = self.meta_rm
        if scorer is None:
            return None
        from grm.meta import rate_chains

        def weigh(
            rs: Sequence[JudgeRequest], chains: Sequence[Sequence[Chain]]
        ) -> list[list[Chain]]:
            return rate_chains(scorer, rs, chains)

        return weigh

    async def acompare_batch(
        self,
        requests: Sequence[RequestLike],
        k: K | None = None,
        engine: AsyncEngine | None = None,
        **overrides: Any,
    ) -> list[Result]:
        """The async :meth:`compare_batch`: each wave's engine calls are awaited.

        ``engine`` is the async side to await (default: the judge engine's own, or its
        sync side on a worker thread). Many concurrent calls each run their own waves
        (adaptive k per request); the engine batches whatever is in flight (vLLM's
        continuous batching). Cancelling the call cancels its pending engine awaits.
        """
        reqs = [as_request(r, i) for i, r in enumerate(requests)]
        cfg = self._config(k, overrides)
        return await self._ajudge(self.template, reqs, cfg, engine, finish=True)

    async def ascore_batch(
        self,
        requests: Sequence[RequestLike],
        k: K | None = None,
        engine: AsyncEngine | None = None,
        **overrides: Any,
    ) -> list[Result]:
        """The async :meth:`score_batch` (see :meth:`acompare_batch`)."""
        reqs = [as_request(r, i) for i, r in enumerate(requests)]
        cfg = self._config(k, overrides)
        return await self._ajudge(self.pointwise_template, reqs, cfg, engine, finish=False)

    async def _ajudge(
        self,
        template: Template,
        reqs: list[JudgeRequest],
        cfg: JudgeConfig,
        engine: AsyncEngine | None,
        finish: bool,
    ) -> list[Result]:
        from grm.driver import WaveDriver, arun
        from grm.engine_ops import aexecute

        call = partial(aexecute, engine or self._async_engine())
        # The driver uses the engine object only to render and count tokens (sync, local).
        driver = WaveDriver(self.engine, template, reqs, cfg, self._weigher() if finish else None)
        try:
            results = await arun(driver.steps(), call)
        except EngineError as err:
            if finish and err.results is not None:
                err.results = self._finish(err.results, reqs, cfg)
            raise
        return self._finish(results, reqs, cfg) if finish else results

    def _async_engine(self) -> AsyncEngine:
        """The engine's async side, made once (a sync engine gets one worker thread)."""
        cached = getattr(self, "_aengine", None)
        if cached is None or getattr(cached, "engine", cached) is not self.engine:
            from grm.inference.aio import as_async

            cached = as_async(self.engine)
            self._aengine = cached
        return cached

    def _finish(
        self, results: list[Result], reqs: Sequence[JudgeRequest], cfg: JudgeConfig
    ) -> list[Result]:
        """Meta-RM vote (when one is loaded), then calibration: the one finishing step."""
        if self.meta_rm is not None:
            from grm.meta import apply_meta

            results = apply_meta(results, reqs, self.meta_rm, cfg.k_meta)
        return self._calibrate(results)

    def _config(self, k: K | None, overrides: dict[str, Any]) -> JudgeConfig:
        """The call's config: ``k=None`` keeps the loaded k; other overrides apply as given
        (``None`` included), unless ``UNSET``."""
        return self.config.with_(k=UNSET if k is None else k, **overrides)

    def check_budget(self, template: Template, max_tokens: int) -> None:
        """Warn (once per template and value) when ``max_tokens`` is far below the budget
        the format's authors decoded with, so that most chains would be cut and forced."""
        if budget_too_low(template, max_tokens) and (template.name, max_tokens) not in (
            self._budget_warned
        ):
            self._budget_warned.add((template.name, max_tokens))
            logger.warning(
                "max_tokens=%d is far below the %d new tokens the %s format was evaluated "
                "with: most chains will be cut and their verdicts forced; raise max_tokens.",
                max_tokens,
                template.decoding.max_tokens,
                template.name,
            )

    def compare(
        self,
        prompt: Prompt,
        a: str,
        b: str,
        k: K | None = None,
        reference: str | None = None,
        **overrides: Any,
    ) -> Result:
        """Which of two responses is better. ``result.p_a`` is P(a is better).

        ``k="auto"`` samples in waves until the stopping rule decides; the overrides
        ``max_k``, ``confidence``, ``stopping`` (a grm.stopping name), ``wave_size`` and
        ``budget`` tune it, and the result reports ``k_used``, ``k_saved``, ``stopped_by``.
        """
        return self.compare_batch([JudgeRequest(prompt, (a, b), reference)], k, **overrides)[0]

    def compare_batch(
        self,
        requests: Sequence[RequestLike],
        k: K | None = None,
        progress: Progress = False,
        **overrides: Any,
    ) -> list[Result]:
        """Judge many pairs with ONE batched engine pass (one pass per wave with k="auto";
        ``budget`` then caps the chains of the whole batch).

        ``progress`` (True; None: when stderr is a terminal) shows a bar with pairs done and
        chains/s; the pairs are then judged in batches of ``PROGRESS_BATCH`` (one pass each),
        unless a ``budget`` must cap them all in one.
        """
        reqs = [as_request(r, i) for i, r in enumerate(requests)]
        cfg = self._config(k, overrides)
        self.check_budget(self.template, cfg.max_tokens)
        if progress is False:
            return self._warn_if_cut(self._judge_pairs(reqs, cfg), cfg)
        size = len(reqs) if cfg.budget is not None else PROGRESS_BATCH
        results: list[Result] = []
        with ChainProgress(len(reqs), "grm compare", "pair", progress) as bar:
            for lo in range(0, len(reqs), max(size, 1)):
                part = self._judge_pairs(reqs[lo : lo + size], cfg)
                results.extend(part)
                bar.update(len(part), chains=sum(r.k_used for r in part))
        return self._warn_if_cut(results, cfg)

    def score(
        self,
        prompt: Prompt,
        responses: Sequence[str],
        k: K | None = None,
        reference: str | None = None,
        **overrides: Any,
    ) -> Result:
        """Score each response 1-10 (``result.scores`` are the means over chains)."""
        return self.score_batch(
            [JudgeRequest(prompt, tuple(responses), reference)], k, **overrides
        )[0]

    def score_batch(
        self, requests: Sequence[RequestLike], k: K | None = None, **overrides: Any
    ) -> list[Result]:
        """Pointwise scores for many requests with ONE batched engine pass (one per wave
        with k="auto", stopping by default on the score-difference posterior)."""
        reqs = [as_request(r, i) for i, r in enumerate(requests)]
        cfg = self._config(k, overrides)
        self.check_budget(self.pointwise_template, cfg.max_tokens)
        return self._warn_if_cut(judge_batch(self.engine, self.pointwise_template, reqs, cfg), cfg)

    def _warn_if_cut(self, results: list[Result], cfg: JudgeConfig) -> list[Result]:
        """Warn once per max_tokens value when most chains of a call were cut by it."""
        chains = [c for r in results for c in r.chains]
        cut = sum(c.finish_reason == "length" for c in chains)
        key = ("(cut chains)", cfg.max_tokens)
        if chains and cut > len(chains) / 2 and key not in self._budget_warned:
            self._budget_warned.add(key)
            logger.warning(
                "%d of %d chains hit max_tokens=%d before their verdict and were forced or "
                "abstained; raise max_tokens for real verdicts.",
                cut,
                len(chains),
                cfg.max_tokens,
            )
        return results

    def score_turns(
        self,
        conversation: Sequence[dict[str, Any]],
        k: K | None = None,
        reference: str | None = None,
        template: str | Template = "multiturn",
        **overrides: Any,
    ) -> TurnScores:
        """Score a conversation or agent trajectory overall and per assistant turn.

        ``result.turns[t]`` is the mean score of assistant turn ``t`` (the message at
        ``result.turn_messages[t]``), for credit assignment in multi-turn RL; tool calls
        and tool results are shown to the judge.
        """
        return self.score_turns_batch([conversation], k, [reference], template, **overrides)[0]

    def score_turns_batch(
        self,
        conversations: Sequence[Sequence[dict[str, Any]]],
        k: K | None = None,
        references: Sequence[str | None] | None = None,
        template: str | Template = "multiturn",
        **overrides: Any,
    ) -> list[TurnScores]:
        """Many conversations with ONE batched engine pass (one per wave with k="auto")."""
        from grm.templates.multiturn import conversation_request, turn_scores

        refs = list(references) if references is not None else [None] * len(conversations)
        reqs = [conversation_request(c, r) for c, r in zip(conversations, refs, strict=True)]
        # Turn order carries meaning: never shuffle the slots.
        cfg = self._config(k, {**overrides, "shuffle": False})
        results = judge_batch(self.engine, get_template(template), reqs, cfg)
        return [turn_scores(c, r) for c, r in zip(conversations, results, strict=True)]

    def rank(
        self,
        prompt: Prompt,
        candidates: Sequence[str],
        method: str = "knockout",
        k: Any = None,
        reference: str | None = None,
        config: RankConfig | None = None,
        **overrides: Any,
    ) -> Ranking:
        """Rank many candidates: 'pointwise', 'knockout' or 'round_robin' (see grm.ranking).

        Returns scores, the order (best first), win rates, every comparison's result and the
        chains and tokens spent. Each round is one batched engine pass; ``k`` and the
        overrides apply to every comparison.
        """
        item = RankItem(prompt, tuple(candidates), reference)
        return self.rank_batch([item], method, k, config, **overrides)[0]

    def rank_batch(
        self,
        items: Sequence[RankItem],
        method: str = "knockout",
        k: Any = None,
        config: RankConfig | None = None,
        **overrides: Any,
    ) -> list[Ranking]:
        """Rank many groups at once: each round of every group shares one engine pass."""
        return rank_items(self, list(items), method, k, config, **overrides)

    async def arank_batch(
        self,
        items: Sequence[RankItem],
        method: str = "knockout",
        k: Any = None,
        config: RankConfig | None = None,
        engine: AsyncEngine | None = None,
        **overrides: Any,
    ) -> list[Ranking]:
        """The async :meth:`rank_batch`: the same ranking steps, each round awaited through
        :meth:`acompare_batch` / :meth:`ascore_batch` on ``engine`` (see there)."""
        steps = rank_steps(list(items), method, k, config, **overrides)
        return await arun_steps(self, steps, engine)

    def close(self) -> None:
        self.engine.close()
        close_meta = getattr(self.meta_rm, "close", None)
        if callable(close_meta):
            close_meta()

    def __enter__(self) -> RewardModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
