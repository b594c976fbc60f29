"""``grm serve``: the judge over HTTP (FastAPI + uvicorn).

    POST /judge        {"mode": "compare"|"score"|"rank", "prompt", "responses", "k", ...}
    POST /get_reward   OpenRLHF's remote reward: {"query", "prompts", "labels"}
                       -> {"rewards", "scores", "extra_logs"}
    GET  /health       liveness, model, engine, queue depth
    GET  /metrics      Prometheus text: requests by path and code, engine calls, batches

Concurrent requests are merged into shared engine calls by :class:`grm.batching.Batcher`.
The server binds 127.0.0.1 unless told otherwise and then requires a bearer token:
OpenRLHF's own reward server binds 0.0.0.0 with no auth (OpenRLHF issue 1317), which lets
anyone on the network spend the GPU. Bodies over ``max_body_bytes`` get 413, more items
than ``max_items`` 413, a full queue 429, a stopped worker or a timeout 503.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.util
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from grm.batching import Batcher, CountingEngine, QueueFull, Unavailable
from grm.reward_map import NEUTRAL, RewardMapConfig, result_reward
from grm.types import JudgeRequest

if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
    raise ImportError("grm.server needs FastAPI and uvicorn: pip install 'grm[serve]'.")

from fastapi import Depends, FastAPI, Header, HTTPException, Request  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse  # noqa: E402
from pydantic import BaseModel, ConfigDict, Field  # noqa: E402

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerConfig:
    """How the judge is served. Limits keep one client from starving the others."""

    host: str = "127.0.0.1"
    """Interface to bind; anything but loopback requires ``token``."""
    port: int = 8000
    """TCP port."""
    token: str | None = None
    """Bearer token every request except /health must carry; None only on loopback."""
    k: int = 4
    """Chains per judgment when a request gives no k."""
    max_k: int = 64
    """The most chains a request may ask for."""
    max_body_bytes: int = 1 << 20
    """Largest request body; bigger gets 413."""
    max_items: int = 256
    """Most responses (/judge) or queries (/get_reward) in one request; more gets 413."""
    max_queue: int = 1024
    """Most items waiting for the engine; a request that would exceed it gets 429."""
    batch_window_ms: float = 10.0
    """How long the worker waits after the first queued job for others to share its call."""
    max_batch: int = 128
    """Most items judged in one engine call."""
    request_timeout_s: float = 600.0
    """A request not answered within this gets 503."""
    reward: RewardMapConfig = field(default_factory=lambda: NEUTRAL)
    """/get_reward: how a result becomes a reward (grm.reward_map). OpenRLHF needs a float
    for every query, so a judgment without any verdict earns 0.5 unless set otherwise."""

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"host={self.host!r} exposes the judge beyond this machine without a token; "
                "pass token (--token or GRM_API_TOKEN) or bind 127.0.0.1."
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}.")
        if not 1 <= self.k <= self.max_k:
            raise ValueError(f"k must be in 1..max_k={self.max_k}, got {self.k}.")
        for name in ("max_body_bytes", "max_items", "max_queue", "max_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not self.reward.float_only:
            raise ValueError(
                "reward.on_abstain='drop' would send null rewards, which OpenRLHF cannot "
                "use; pass RewardMapConfig(on_abstain='neutral') or on_abstain='value'."
            )
        if self.batch_window_ms < 0 or self.request_timeout_s <= 0:
            raise ValueError(
                f"batch_window_ms must be >= 0 and request_timeout_s > 0, got "
                f"{self.batch_window_ms} and {self.request_timeout_s}."
            )


class BodyLimit:
    """ASGI middleware: 413 once a body passes the limit, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = (
        f'{{"detail": "request body is over the {limit}-byte limit; send fewer or shorter '
        f'items, or raise --max-body-bytes."}}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JudgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score", "rank"] = "compare"
    prompt: str | list[dict[str, str]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None
    k: int | Literal["auto"] | None = None
    method: str = "knockout"
    chains: bool = False


class RewardBody(BaseModel):
    query: list[str] = Field(min_length=1)
    prompts: list[str] | None = None
    labels: list[str | None] | None = None
    k: int | Literal["auto"] | None = None


def response_of(query: str, prompt: str | None) -> str:
    """OpenRLHF sends the full text (prompt + response) as the query; strip the prompt."""
    if prompt and query.startswith(prompt):
        return query[len(prompt) :]
    return query


def create_app(judge: Any, config: ServerConfig | None = None) -> Any:
    """The FastAPI app around a judge (a :class:`grm.RewardModel`)."""
    cfg = config or ServerConfig()
    counter = CountingEngine(judge.engine)
    judge.engine = counter
    batcher = Batcher(judge, cfg.batch_window_ms / 1000.0, cfg.max_batch, cfg.max_queue)
    codes: Counter[tuple[str, int]] = Counter()
    timing = {"seconds": 0.0, "count": 0, "chains": 0}

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title="grm", version="0.1.0", lifespan=lifespan)
    app.state.batcher = batcher
    app.state.engine_counter = counter

    def check_token(authorization: str | None = Header(default=None)) -> None:
        if not cfg.token:
            return
        expected = f"Bearer {cfg.token}"
        if authorization is None or not hmac.compare_digest(authorization, expected):
            raise HTTPException(
                401,
                "missing or wrong bearer token; send the header 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def pick_k(k: int | str | None) -> int | str:
        if k is None:
            return cfg.k
        if k != "auto" and not 1 <= int(k) <= cfg.max_k:
            raise HTTPException(422, f"k must be in 1..{cfg.max_k} or 'auto', got {k}.")
        return k

    def bounded(n: int, what: str) -> None:
        if n > cfg.max_items:
            raise HTTPException(
                413, f"{what} has {n} items, over the limit of {cfg.max_items}; split the request."
            )

    async def run(kind: Any, items: list[Any], k: Any, method: str | None = None) -> list[Any]:
        try:
            fut = batcher.submit(kind, items, k, method)
        except QueueFull as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": "1"}) from None
        except Unavailable as exc:
            raise HTTPException(503, str(exc)) from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), cfg.request_timeout_s)
        except asyncio.TimeoutError:
            raise HTTPException(
                503, f"no answer within {cfg.request_timeout_s} s; the engine is overloaded."
            ) from None
        except Unavailable as exc:
            raise HTTPException(503, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        codes[(request.url.path, response.status_code)] += 1
        timing["seconds"] += time.perf_counter() - start
        timing["count"] += 1
        return response

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> Any:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        if not batcher.alive:
            raise HTTPException(503, "the judge worker is not running.")
        return {
            "status": "ok",
            "model": getattr(judge, "model_path", None),
            "engine": counter.name,
            "queue": batcher.pending,
        }

    @app.post("/judge", dependencies=[Depends(check_token)])
    async def judge_endpoint(body: JudgeBody) -> dict[str, Any]:
        bounded(len(body.responses), "responses")
        k = pick_k(body.k)
        if body.mode == "rank":
            from grm.ranking import RankItem, get_method

            get_method(body.method)
            item = RankItem(body.prompt, tuple(body.responses), body.reference)
            ranking = (await run("rank", [item], k, body.method))[0]
            timing["chains"] += ranking.chains
            return ranking.summary()
        if body.mode == "compare" and len(body.responses) != 2:
            raise HTTPException(
                422,
                f"mode 'compare' takes exactly 2 responses, got {len(body.responses)}; "
                "use mode 'score' or 'rank' for more.",
            )
        request = JudgeRequest(body.prompt, tuple(body.responses), body.reference)
        result = (await run(body.mode, [request], k))[0]
        timing["chains"] += result.k_used
        out = result.summary()
        if body.chains:
            out["chains"] = [
                {"order": list(c.order), "forced": c.forced, "text": c.text} for c in result.chains
            ]
        return out

    @app.post("/get_reward", dependencies=[Depends(check_token)])
    async def get_reward(body: RewardBody) -> dict[str, Any]:
        n = len(body.query)
        bounded(n, "query")
        for name, col in (("prompts", body.prompts), ("labels", body.labels)):
            if col is not None and len(col) != n:
                raise HTTPException(422, f"{name} has {len(col)} items but query has {n}.")
        k = pick_k(body.k)
        prompts = body.prompts or [""] * n
        labels = body.labels or [None] * n
        responses = [response_of(q, p) for q, p in zip(body.query, prompts, strict=True)]
        pairs, singles = [], []
        for i, (p, r, lab) in enumerate(zip(prompts, responses, labels, strict=True)):
            if not r.strip():
                continue
            question = p if p.strip() else "(no prompt given)"
            if lab is not None and str(lab).strip():
                pairs.append((i, JudgeRequest(question, (r, str(lab)))))
            else:
                singles.append((i, JudgeRequest(question, (r,))))
        tasks = []
        if pairs:
            tasks.append(run("compare", [q for _, q in pairs], k))
        if singles:
            tasks.append(run("score", [q for _, q in singles], k))
        outs = await asyncio.gather(*tasks)
        rewards: list[float] = [0.0] * n
        abstain = [1.0] * n
        k_used = [0.0] * n
        done = iter(outs)
        for group, kind in ((pairs, "compare"), (singles, "score")):
            if not group:
                continue
            template = judge.template if kind == "compare" else judge.pointwise_template
            for (i, _), res in zip(group, next(done), strict=True):
                # A judgment without any verdict follows cfg.reward and is flagged in extra_logs.
                value = result_reward(res, template, cfg.reward)
                assert value is not None  # ServerConfig admits only float-only policies
                rewards[i] = value
                abstain[i] = res.abstentions / res.k_used if res.k_used else 1.0
                k_used[i] = float(res.k_used)
                timing["chains"] += res.k_used
        return {
            "rewards": rewards,
            "scores": rewards,
            "extra_logs": {"grm_abstention_rate": abstain, "grm_k_used": k_used},
        }

    @app.get("/metrics", dependencies=[Depends(check_token)], response_class=PlainTextResponse)
    async def metrics() -> str:
        s = batcher.stats
        lines = ["# TYPE grm_requests_total counter"]
        for (path, code), v in sorted(codes.items()):
            lines.append(f'grm_requests_total{{path="{path}",code="{code}"}} {v}')
        lines += [
            f"grm_request_seconds_sum {timing['seconds']:.6f}",
            f"grm_request_seconds_count {timing['count']}",
            f"grm_engine_generate_calls_total {counter.generate_calls}",
            f"grm_engine_choice_logprobs_calls_total {counter.choice_calls}",
            f"grm_batches_total {s.batches}",
            f"grm_judge_calls_total {s.calls}",
            f"grm_batched_jobs_total {s.jobs}",
            f"grm_batched_items_total {s.items}",
            f"grm_judge_call_failures_total {s.failures}",
            f"grm_chains_total {timing['chains']}",
            f"grm_queue_items {batcher.pending}",
        ]
        return "\n".join(lines) + "\n"

    app.add_middleware(BodyLimit, limit=cfg.max_body_bytes)
    return app


def serve(judge: Any, config: ServerConfig | None = None, log_level: str = "info") -> None:
    """Run the server in this process until interrupted."""
    import uvicorn

    cfg = config or ServerConfig()
    app = create_app(judge, cfg)
    logger.info("grm serving on http://%s:%d", cfg.host, cfg.port)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=log_level)
