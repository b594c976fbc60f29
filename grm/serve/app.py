"""The FastAPI app: routes, admission, per-request judging and its errors.

    POST /judge        {"mode": "compare"|"score"|"rank", "prompt", "responses", "k", ...}
    POST /judge_batch  {"mode": "compare"|"score", "requests": [...], "k"}: one engine pass
    POST /get_reward   OpenRLHF's remote reward: {"query", "prompts", "labels"}
                       -> {"rewards", "scores", "extra_logs"}
    GET  /health       up/down; with the token also model, engine and load
    GET  /metrics      Prometheus text (prometheus_client)

Every request is judged on its own (see :mod:`grm.serve.runner`) and answered with its
result or its own error: 422 names the bad field, 413 a request too large or too costly,
429 (with ``Retry-After``) while the admitted chains are at the limit, 503 with the
engine's message when the engine failed, 504 when the deadline passed (its engine work is
aborted). A request whose client disconnects is cancelled the same way (see
:mod:`grm.serve.gate`). Chains already sampled when a later engine step failed are
returned, with the error in ``engine_error``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from grm.inference.aio import as_async
from grm.inference.base import AsyncEngine
from grm.judge import EngineError
from grm.reward_map import result_reward
from grm.serve.admission import Admission, request_chains
from grm.serve.config import ServerConfig
from grm.serve.gate import Gate
from grm.serve.metrics import Metrics
from grm.serve.openrlhf import label_text, response_of, strip_special
from grm.serve.runner import RequestCancelled, Runner
from grm.types import JudgeRequest, Result

logger = logging.getLogger(__name__)
T = TypeVar("T")
K = int | Literal["auto"] | None


class JudgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score", "rank"] = "compare"
    prompt: str | list[dict[str, Any]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None
    k: int | Literal["auto"] | None = None
    method: str = "knockout"
    chains: bool = False


class BatchItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str | list[dict[str, Any]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score"] = "compare"
    requests: list[BatchItem] = Field(min_length=1)
    k: int | Literal["auto"] | None = None


class RewardBody(BaseModel):
    query: list[str] = Field(min_length=1)
    prompts: list[str] | None = None
    labels: list[Any] | None = None
    k: int | Literal["auto"] | None = None


async def _kept(work: Awaitable[list[Result]]) -> tuple[list[Result], str | None]:
    """Await a judging call; when the engine failed after some chains were sampled, keep
    the results those chains make (the error goes along)."""
    try:
        return list(await work), None
    except EngineError as err:
        if err.results is not None:
            return list(err.results), str(err)
        raise


def _rank(judge: Any, item: Any, method: str, k: Any) -> Any:
    return judge.rank_batch([item], method, k)[0]


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


def _summary(result: Result, chains: bool = False) -> dict[str, Any]:
    out = result.summary()
    if chains:
        out["chains"] = [
            {"order": list(c.order), "forced": c.forced, "text": c.text} for c in result.chains
        ]
    return out


def create_app(judge: Any, config: ServerConfig | None = None) -> Any:
    """The ASGI app around a judge (a :class:`grm.RewardModel`)."""
    cfg = config or ServerConfig()
    metrics = Metrics()
    admission = Admission(cfg.max_chains)
    tokenizer = getattr(judge.engine, "tokenizer", None)
    special = tuple(getattr(tokenizer, "all_special_tokens", ()) or ())
    holder: dict[str, Any] = {}
    aengine = CountingEngine(
        as_async(judge.engine), lambda kind: metrics.engine_calls.labels(kind).inc()
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # Ranking rounds run the sync judging code on worker threads (grm.serve.runner);
        # compare and score await the wave driver on this loop directly.
        loop = asyncio.get_running_loop()
        holder["runner"] = Runner(judge, loop, cfg.max_concurrency, aengine=aengine)
        yield
        holder.pop("runner").close()

    def compare(reqs: list[JudgeRequest], k: Any) -> Awaitable[tuple[list[Result], str | None]]:
        return _kept(judge.acompare_batch(reqs, k, engine=aengine))

    def score(reqs: list[JudgeRequest], k: Any) -> Awaitable[tuple[list[Result], str | None]]:
        return _kept(judge.ascore_batch(reqs, k, engine=aengine))

    app = FastAPI(title="grm", version="0.1.0", lifespan=lifespan)
    app.state.metrics = metrics
    app.state.admission = admission

    def pick_k(k: K) -> int | str:
        if k is None:
            return cfg.k
        if k != "auto" and not 1 <= int(k) <= cfg.max_k:
            raise HTTPException(422, f"k must be in 1..{cfg.max_k} or 'auto', got {k}.")
        return k

    def ceiling(k: int | str) -> int:
        return cfg.max_k if k == "auto" else int(k)

    def bounded(n: int, what: str) -> None:
        if n > cfg.max_items:
            raise HTTPException(
                413, f"{what} has {n} items, over the limit of {cfg.max_items}; split the request."
            )

    async def judged(cost: int, work: Callable[[], Awaitable[T]]) -> T:
        """Admit the request by its chains, then await its judging under the deadline."""
        if cost > cfg.max_request_chains:
            metrics.rejected.labels("too_many_chains").inc()
            raise HTTPException(
                413,
                f"this request costs {cost} chains, over the per-request limit of "
                f"{cfg.max_request_chains}; lower k, send fewer responses, or use "
                "method 'knockout' instead of 'round_robin'.",
            )
        if not admission.try_admit(cost):
            metrics.rejected.labels("full").inc()
            raise HTTPException(
                429,
                f"the judge is at its limit of {cfg.max_chains} chains in flight "
                f"({admission.in_flight} admitted); retry after the Retry-After delay.",
                headers={"Retry-After": "1"},
            )
        metrics.chains_in_flight.set(admission.in_flight)
        metrics.requests_in_flight.inc()
        try:
            return await asyncio.wait_for(work(), cfg.request_timeout_s)
        except (TimeoutError, RequestCancelled):
            metrics.timeouts.inc()
            raise HTTPException(
                504,
                f"no answer within {cfg.request_timeout_s} s; the request's engine work was "
                "aborted. Retry, lower k or max_tokens, or raise --timeout.",
            ) from None
        except EngineError as err:
            if isinstance(err.__cause__, RequestCancelled):
                metrics.timeouts.inc()
                raise HTTPException(504, str(err.__cause__)) from None
            metrics.engine_failures.inc()
            raise HTTPException(503, str(err)) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise HTTPException(422, str(exc)) from None
        except Exception as exc:
            logger.exception("judging failed")
            metrics.engine_failures.inc()
            raise HTTPException(503, f"the judge failed: {type(exc).__name__}: {exc}") from None
        finally:
            admission.release(cost)
            metrics.chains_in_flight.set(admission.in_flight)
            metrics.requests_in_flight.dec()

    def counted(results: Sequence[Result]) -> None:
        metrics.chains.inc(sum(r.k_used for r in results))

    @app.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        if "runner" not in holder:
            raise HTTPException(503, "the judge is not running.")
        if not request.scope.get("state", {}).get("authorized", False):
            return {"status": "ok"}
        return {
            "status": "ok",
            "model": getattr(judge, "model_path", None),
            "engine": getattr(judge.engine, "name", None),
            "chains_in_flight": admission.in_flight,
            "max_chains": cfg.max_chains,
        }

    @app.post("/judge")
    async def judge_endpoint(body: JudgeBody) -> dict[str, Any]:
        bounded(len(body.responses), "responses")
        k = pick_k(body.k)
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
            raise HTTPException(422, str(exc)) from None
        cost = request_chains(body.mode, n, ceiling(k), body.method)
        if body.mode == "rank":
            runner = holder["runner"]
            ranking = await judged(cost, lambda: runner.run(_rank, item, body.method, k))
            counted(ranking.results)
            return dict(ranking.summary())
        fn = compare if body.mode == "compare" else score
        results, error = await judged(cost, lambda: fn([request], k))
        counted(results)
        out = _summary(results[0], body.chains)
        if error is not None:
            out["engine_error"] = error
        return out

    @app.post("/judge_batch")
    async def judge_batch(body: BatchBody) -> dict[str, Any]:
        bounded(len(body.requests), "requests")
        k = pick_k(body.k)
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
            fn = compare if body.mode == "compare" else score
            cost = ceiling(k) * len(valid)
            results, error = await judged(cost, lambda: fn([r for _, r in valid], k))
            counted(results)
            for (i, _), res in zip(valid, results, strict=True):
                answers[i] = _summary(res)
                if error is not None:
                    answers[i]["engine_error"] = error
        return {"results": answers}

    @app.post("/get_reward")
    async def get_reward(body: RewardBody) -> dict[str, Any]:
        n = len(body.query)
        bounded(n, "query")
        for name, col in (("prompts", body.prompts), ("labels", body.labels)):
            if col is not None and len(col) != n:
                raise HTTPException(422, f"{name} has {len(col)} items but query has {n}.")
        k = pick_k(body.k)
        prompts = body.prompts or [""] * n
        labels = body.labels or [None] * n
        rewards: list[float] = [0.0] * n
        abstain = [1.0] * n
        k_used = [0.0] * n
        pairs: list[tuple[int, JudgeRequest]] = []
        singles: list[tuple[int, JudgeRequest]] = []
        for i, (q, p, lab) in enumerate(zip(body.query, prompts, labels, strict=True)):
            response = strip_special(response_of(q, p), special)
            if not response:
                continue  # nothing to judge: reward 0, abstention 1
            question = strip_special(p, special) or "(no prompt given)"
            reference = label_text(lab)
            if reference is not None:
                pairs.append((i, JudgeRequest(question, (response, reference))))
            else:
                singles.append((i, JudgeRequest(question, (response,))))
        cost = ceiling(k) * (len(pairs) + len(singles))
        errors: list[str] = []

        async def run(
            group: list[tuple[int, JudgeRequest]], fn: Any, share: int, template: Any
        ) -> None:
            results, error = await judged(share, lambda: fn([r for _, r in group], k))
            counted(results)
            if error is not None:
                errors.append(error)
            for (i, _), res in zip(group, results, strict=True):
                # A judgment without any verdict follows cfg.reward and is flagged in extra_logs.
                value = result_reward(res, template, cfg.reward)
                rewards[i] = 0.5 if value is None else value
                abstain[i] = res.abstentions / res.k_used if res.k_used else 1.0
                k_used[i] = float(res.k_used)

        jobs = []
        if pairs:
            jobs.append(run(pairs, compare, ceiling(k) * len(pairs), judge.template))
        if singles:
            share = ceiling(k) * len(singles)
            jobs.append(run(singles, score, share, judge.pointwise_template))
        if cost:
            await asyncio.gather(*jobs)
        out: dict[str, Any] = {
            "rewards": rewards,
            "scores": rewards,
            "extra_logs": {"grm_abstention_rate": abstain, "grm_k_used": k_used},
        }
        if errors:
            out["engine_error"] = "; ".join(errors)
        return out

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return Gate(app, cfg, metrics)


def serve(judge: Any, config: ServerConfig | None = None, log_level: str = "info") -> None:
    """Run the server in this process until interrupted (uvicorn, h11, with limits)."""
    import uvicorn

    cfg = config or ServerConfig()
    app = create_app(judge, cfg)
    logger.info("grm serving on http://%s:%d", cfg.host, cfg.port)
    uvicorn.run(app, **uvicorn_options(cfg), log_level=log_level)


def uvicorn_options(cfg: ServerConfig) -> dict[str, Any]:
    """uvicorn settings from the config: connection limit, idle timeout, header size, and
    the h11 protocol with head and body deadlines (:mod:`grm.serve.protocol`)."""
    from grm.serve.protocol import deadline_protocol

    return {
        "host": cfg.host,
        "port": cfg.port,
        # h11 (uvicorn's own parser, with the header-size limit below) plus read deadlines.
        "http": deadline_protocol(cfg.header_timeout_s, cfg.body_timeout_s),
        "limit_concurrency": cfg.max_connections,
        "timeout_keep_alive": cfg.keep_alive_s,
        "h11_max_incomplete_event_size": cfg.max_header_bytes,
        "timeout_graceful_shutdown": 10,
    }
