"""The judging service behind the routes: k choice, admission, deadlines and error mapping.

Like vLLM's ``OpenAIServing*`` classes (``vllm/entrypoints/openai/*/serving.py``), it holds
no HTTP: a route hands it a validated body (:mod:`grm.serve.protocol`) and gets a JSON-able
answer, or a :class:`ServiceError` that the app turns into a typed HTTP answer:

- 422 names the bad field, 413 a request too large or too costly;
- 429 (with ``Retry-After``) while the admitted chains are at the limit;
- 503 when the engine failed, 504 when the deadline passed (its engine work is aborted).

No made-up rewards: a judgement that failed is never answered as if it were one. An engine
failure answers 503 (reason ``engine_error``) even when some chains were sampled before it;
a timeout 504 (``timeout``). On ``/get_reward`` a judgment without any verdict (every chain
abstained) answers 503 (``no_verdict``) unless the server states a value for it
(``ServerConfig.reward``). OpenRLHF's client (``openrlhf/utils/agent.py``,
``_fetch_rewards_via_http``) raises for any non-2xx status, retries five times a second
apart, then leaves the sample's reward unset with an INFO log: a failed judgement is
retried and then dropped, never trained on as 0.5. ``/judge`` and ``/judge_batch`` report
such a judgment as it is (``winner`` "none", ``probability`` null).

Admission charges a request the chains it can spend (:mod:`grm.serve.admission`): k for a
fixed k, the judge's own ``max_k`` for ``k="auto"`` (the adaptive loop stops there), never
the server's per-request cap ``max_request_k``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from grm.inference.aio import as_async
from grm.inference.base import AsyncEngine
from grm.judge import EngineError
from grm.model import RewardModel
from grm.reward_map import result_reward
from grm.serve.admission import Admission, request_chains
from grm.serve.chat_formats import conversation, detect
from grm.serve.config import ServerConfig
from grm.serve.metrics import Metrics
from grm.serve.openrlhf import label_text, response_of, strip_special
from grm.serve.protocol import BatchBody, JudgeBody, K, RewardBody
from grm.types import JudgeRequest, Result, chain_dict

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ServiceError(Exception):
    """A request the service could not answer with a judgement: its HTTP status, a short
    machine-readable ``reason`` and a ``detail`` that says what to do."""

    def __init__(
        self, status: int, reason: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "reason": self.reason}


class CountingEngine:
    """An async engine that reports each call to ``on_call(kind)`` (for the metrics)."""

    def __init__(self, engine: AsyncEngine, on_call: Callable[[str], None]) -> None:
        self.engine = engine
        self.on_call = on_call

    async def agenerate(self, requests: Any, sampling: Any) -> Any:
        self.on_call("generate")
        return await self.engine.agenerate(requests, sampling)

    async def achoice_logprobs(self, prompts: Any, choices: Any) -> Any:
        self.on_call("choice")
        return await self.engine.achoice_logprobs(prompts, choices)

    async def asequence_logprobs(self, prompts: Any, candidates: Any) -> Any:
        self.on_call("choice")
        return await self.engine.asequence_logprobs(prompts, candidates)


def policy_format(tokenizer: Any) -> str | None:
    """The chat format a policy's tokenizer renders (its chat template applied to a probe
    conversation), or None when it is none of the known ones (queries are then detected one
    by one)."""
    probe = [{"role": "user", "content": "PROBE-U"}, {"role": "assistant", "content": "PROBE-A"}]
    try:
        text = tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception as exc:  # no chat template, or one that refuses this probe
        logger.warning("the policy tokenizer renders no chat (%s); detecting per query", exc)
        return None
    name = detect(str(text))
    got = conversation(str(text), name) if name else None
    if got is None or (got.prompt, got.response) != ("PROBE-U", "PROBE-A"):
        logger.warning("the policy's chat format is not a known one; detecting per query")
        return None
    return name


def summary(result: Result, chains: bool = False) -> dict[str, Any]:
    """A result as the JSON the routes answer with (its chains on request)."""
    out = result.summary()
    if chains:
        out["chains"] = [chain_dict(c) for c in result.chains]
    return out


class JudgeService:
    """Judges validated requests for the routes (one per app)."""

    def __init__(
        self,
        judge: RewardModel,
        config: ServerConfig,
        metrics: Metrics,
        policy_tokenizer: Any = None,
    ) -> None:
        self.judge = judge
        self.cfg = config
        self.metrics = metrics
        self.admission = Admission(config.max_chains)
        self.engine = CountingEngine(
            as_async(judge.engine), lambda kind: metrics.engine_calls.labels(kind).inc()
        )
        tokenizer = getattr(judge.engine, "tokenizer", None)
        self.special: tuple[str, ...] = tuple(getattr(tokenizer, "all_special_tokens", ()) or ())
        self.policy_format: str | None = None
        if policy_tokenizer is not None:
            self.policy_format = policy_format(policy_tokenizer)
            policy_special = getattr(policy_tokenizer, "all_special_tokens", ()) or ()
            self.special = tuple(dict.fromkeys((*self.special, *policy_special)))
        self._running = False

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Every request (compare, score, and each round of a ranking) awaits the wave
        driver on the server's event loop, so nothing runs on a thread of its own."""
        self._running = True

    def close(self) -> None:
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    # ---------------------------------------------------------------- k, cost, limits

    def pick_k(self, k: K) -> int | str:
        """The request's k, or the server's default; a k over the server's cap is refused."""
        if k is None:
            return self.cfg.k
        if k != "auto" and not 1 <= int(k) <= self.cfg.max_request_k:
            raise ServiceError(
                422, "bad_k", f"k must be in 1..{self.cfg.max_request_k} or 'auto', got {k}."
            )
        return k

    def ceiling(self, k: int | str) -> int:
        """The most chains one judgment at ``k`` can spend: the judge stops an adaptive
        request at its own ``max_k``."""
        return self.judge.config.max_k if k == "auto" else int(k)

    def batch_cost(self, k: int | str, n: int) -> int:
        """Chains a batch of ``n`` judgments can spend; an adaptive batch also stops at the
        judge's ``budget`` when one is set."""
        cost = self.ceiling(k) * n
        budget = self.judge.config.budget
        return min(cost, budget) if k == "auto" and budget is not None else cost

    def bounded(self, n: int, what: str) -> None:
        if n > self.cfg.max_items:
            raise ServiceError(
                413,
                "too_many_items",
                f"{what} has {n} items, over the limit of {self.cfg.max_items}; split the request.",
            )

    async def judged(self, cost: int, work: Callable[[], Awaitable[T]]) -> T:
        """Admit the request by its chains, then await its judging under the deadline."""
        cfg, metrics = self.cfg, self.metrics
        if cost > cfg.max_request_chains:
            metrics.rejected.labels("too_many_chains").inc()
            raise ServiceError(
                413,
                "too_many_chains",
                f"this request costs {cost} chains, over the per-request limit of "
                f"{cfg.max_request_chains}; lower k, send fewer responses, or use "
                "method 'knockout' instead of 'round_robin'.",
            )
        if not self.admission.try_admit(cost):
            metrics.rejected.labels("full").inc()
            raise ServiceError(
                429,
                "full",
                f"the judge is at its limit of {cfg.max_chains} chains in flight "
                f"({self.admission.in_flight} admitted); retry after the Retry-After delay.",
                headers={"Retry-After": "1"},
            )
        metrics.chains_in_flight.set(self.admission.in_flight)
        metrics.requests_in_flight.inc()
        try:
            return await asyncio.wait_for(work(), cfg.request_timeout_s)
        except TimeoutError:
            metrics.timeouts.inc()
            metrics.failed_judgements.labels("timeout", "error").inc()
            raise ServiceError(
                504,
                "timeout",
                f"no answer within {cfg.request_timeout_s} s; the request's engine work was "
                "aborted. Retry, lower k or max_tokens, or raise --timeout.",
            ) from None
        except EngineError as err:
            # Chains sampled before the failure are not a judgement: 503, never a reward.
            metrics.engine_failures.inc()
            metrics.failed_judgements.labels("engine_error", "error").inc()
            raise ServiceError(503, "engine_error", str(err)) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise ServiceError(422, "bad_request", str(exc)) from None
        except Exception as exc:
            logger.exception("judging failed")
            metrics.engine_failures.inc()
            metrics.failed_judgements.labels("engine_error", "error").inc()
            raise ServiceError(
                503, "engine_error", f"the judge failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            self.admission.release(cost)
            metrics.chains_in_flight.set(self.admission.in_flight)
            metrics.requests_in_flight.dec()

    def counted(self, results: Sequence[Result]) -> None:
        self.metrics.chains.inc(sum(r.k_used for r in results))

    def compare(self, reqs: list[JudgeRequest], k: Any) -> Awaitable[list[Result]]:
        return self.judge.acompare_batch(reqs, k, engine=self.engine)

    def score(self, reqs: list[JudgeRequest], k: Any) -> Awaitable[list[Result]]:
        return self.judge.ascore_batch(reqs, k, engine=self.engine)

    def rank(self, items: list[Any], method: str, k: Any) -> Awaitable[list[Any]]:
        return self.judge.arank_batch(items, method, k, engine=self.engine)

    # ---------------------------------------------------------------- routes' work

    def health(self, authorized: bool) -> dict[str, Any]:
        if not self.running:
            raise ServiceError(503, "not_running", "the judge is not running.")
        if not authorized:
            return {"status": "ok"}
        return {
            "status": "ok",
            "model": self.judge.model_path,
            "engine": getattr(self.judge.engine, "name", None),
            "chains_in_flight": self.admission.in_flight,
            "max_chains": self.cfg.max_chains,
        }

    async def judge_one(self, body: JudgeBody) -> dict[str, Any]:
        """``/judge``: compare, score or rank one prompt's responses."""
        self.bounded(len(body.responses), "responses")
        k = self.pick_k(body.k)
        n = len(body.responses)
        try:
            if body.mode == "rank":
                from grm.ranking import RankItem, get_method

                get_method(body.method)
                item = RankItem(body.prompt, tuple(body.responses), body.reference)
            else:
                if body.mode == "compare" and n != 2:
                    raise ValueError(
                        f"mode 'compare' takes exactly 2 responses, got {n}; use mode 'score' "
                        "or 'rank' for more."
                    )
                request = JudgeRequest(body.prompt, tuple(body.responses), body.reference)
        except (ValueError, TypeError) as exc:
            raise ServiceError(422, "bad_request", str(exc)) from None
        cost = request_chains(body.mode, n, self.ceiling(k), body.method)
        if body.mode == "rank":
            rankings = await self.judged(cost, lambda: self.rank([item], body.method, k))
            self.counted(rankings[0].results)
            return dict(rankings[0].summary())
        fn = self.compare if body.mode == "compare" else self.score
        results = await self.judged(cost, lambda: fn([request], k))
        self.counted(results)
        return summary(results[0], body.chains)

    async def judge_batch(self, body: BatchBody) -> dict[str, Any]:
        """``/judge_batch``: many requests in one engine pass; a bad item gets its own error."""
        self.bounded(len(body.requests), "requests")
        k = self.pick_k(body.k)
        answers: list[dict[str, Any]] = [{} for _ in body.requests]
        valid: list[tuple[int, JudgeRequest]] = []
        for i, it in enumerate(body.requests):
            try:
                if body.mode == "compare" and len(it.responses) != 2:
                    raise ValueError(f"mode 'compare' takes 2 responses, got {len(it.responses)}.")
                valid.append((i, JudgeRequest(it.prompt, tuple(it.responses), it.reference)))
            except ValueError as exc:
                answers[i] = {"error": f"requests[{i}]: {exc}"}
        if valid:
            fn = self.compare if body.mode == "compare" else self.score
            cost = self.batch_cost(k, len(valid))
            results = await self.judged(cost, lambda: fn([r for _, r in valid], k))
            self.counted(results)
            for (i, _), res in zip(valid, results, strict=True):
                answers[i] = summary(res)
        return {"results": answers}

    def sample_text(self, query: str, prompt: str) -> tuple[str, str]:
        """The plain question and response of one OpenRLHF sample: the policy's chat markup
        removed (its system prompt dropped) when the query is in a known chat format
        (:mod:`grm.serve.chat_formats`), else the response found after the prompt."""
        conv = conversation(query, self.policy_format or detect(query))
        if conv is not None and conv.response.strip():
            asked = conversation(prompt, self.policy_format or detect(prompt)) if prompt else None
            question = asked.prompt if asked is not None and asked.prompt else conv.prompt
            response = conv.response
        else:
            question, response = prompt, response_of(query, prompt)
        question = strip_special(question, self.special) or "(no prompt given)"
        return question, strip_special(response, self.special)

    async def get_reward(self, body: RewardBody) -> dict[str, Any]:
        """``/get_reward``: OpenRLHF's remote reward (see :mod:`grm.serve.openrlhf`)."""
        n = len(body.query)
        self.bounded(n, "query")
        for name, col in (("prompts", body.prompts), ("labels", body.labels)):
            if col is not None and len(col) != n:
                raise ServiceError(
                    422, "bad_request", f"{name} has {len(col)} items but query has {n}."
                )
        k = self.pick_k(body.k)
        prompts = body.prompts or [""] * n
        labels = body.labels or [None] * n
        rewards: list[float] = [0.0] * n
        abstain = [1.0] * n
        k_used = [0.0] * n
        pairs: list[tuple[int, JudgeRequest]] = []
        singles: list[tuple[int, JudgeRequest]] = []
        for i, (q, p, lab) in enumerate(zip(body.query, prompts, labels, strict=True)):
            question, response = self.sample_text(q, p)
            if not response:
                continue  # nothing to judge: reward 0, abstention 1
            reference = label_text(lab)
            if reference is not None:
                pairs.append((i, JudgeRequest(question, (response, reference))))
            else:
                singles.append((i, JudgeRequest(question, (response,))))
        unjudged: list[int] = []

        async def run(
            group: list[tuple[int, JudgeRequest]], fn: Any, share: int, template: Any
        ) -> None:
            results = await self.judged(share, lambda: fn([r for _, r in group], k))
            self.counted(results)
            for (i, _), res in zip(group, results, strict=True):
                value = result_reward(res, template, self.cfg.reward)
                if value is None:  # no verdict under the 'drop' policy: nothing to send
                    unjudged.append(i)
                    continue
                if res.no_verdict:  # the stated value the server was told to send
                    self.metrics.failed_judgements.labels("no_verdict", "stated_value").inc()
                rewards[i] = value
                abstain[i] = res.abstentions / res.k_used if res.k_used else 1.0
                k_used[i] = float(res.k_used)

        jobs = []
        if pairs:
            share = self.batch_cost(k, len(pairs))
            jobs.append(run(pairs, self.compare, share, self.judge.template))
        if singles:
            share = self.batch_cost(k, len(singles))
            jobs.append(run(singles, self.score, share, self.judge.pointwise_template))
        if jobs:
            await asyncio.gather(*jobs)
        if unjudged:
            self.metrics.failed_judgements.labels("no_verdict", "error").inc(len(unjudged))
            raise ServiceError(
                503,
                "no_verdict",
                f"every chain abstained for query {sorted(unjudged)}: the judge gave no "
                "verdict, so no reward is sent. Retry (sampling may differ), raise k or "
                "max_tokens, or start the server with --on-abstain neutral / value to send a "
                "stated value instead.",
            )
        return {
            "rewards": rewards,
            "scores": rewards,
            "extra_logs": {"grm_abstention_rate": abstain, "grm_k_used": k_used},
        }
