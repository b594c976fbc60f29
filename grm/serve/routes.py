"""The HTTP routes: each hands its validated body to the app's :class:`JudgeService`.

    POST /judge        {"mode": "compare"|"score"|"rank", "prompt", "responses", "k", ...}
    POST /judge_batch  {"mode": "compare"|"score", "requests": [...], "k"}: one engine pass
    POST /get_reward   OpenRLHF's remote reward: {"query", "prompts", "labels"}
                       -> {"rewards", "scores", "extra_logs"}
    GET  /health       up/down; with the token also model, engine and load
    GET  /metrics      Prometheus text (prometheus_client)

Laid out as vLLM's ``vllm/entrypoints/openai/*/api_router.py``: a module-level router, the
service read from ``request.app.state``, no judging logic here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from grm.serve.protocol import BatchBody, JudgeBody, RewardBody
from grm.serve.service import JudgeService

router = APIRouter()


def service(request: Request) -> JudgeService:
    svc: JudgeService = request.app.state.service
    return svc


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    authorized = bool(request.scope.get("state", {}).get("authorized", False))
    return service(request).health(authorized)


@router.post("/judge")
async def judge(body: JudgeBody, request: Request) -> dict[str, Any]:
    return await service(request).judge_one(body)


@router.post("/judge_batch")
async def judge_batch(body: BatchBody, request: Request) -> dict[str, Any]:
    return await service(request).judge_batch(body)


@router.post("/get_reward")
async def get_reward(body: RewardBody, request: Request) -> dict[str, Any]:
    return await service(request).get_reward(body)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    body = service(request).metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4")
