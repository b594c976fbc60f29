"""The request bodies of the HTTP routes (pydantic schemas), as vLLM keeps its own in
``vllm/entrypoints/openai/*/protocol.py``: what each route accepts, validated before any
judging starts. Unknown fields are refused (422 naming them), except on ``/get_reward``,
whose client (OpenRLHF) may add columns in later versions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: A request's k: chains per judgment, "auto" (adaptive, up to the judge's ``max_k``), or
#: None (the server's default ``k``).
K = int | Literal["auto"] | None


class JudgeBody(BaseModel):
    """``POST /judge``: one prompt and its responses."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score", "rank"] = "compare"
    prompt: str | list[dict[str, Any]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None
    k: K = None
    method: str = "knockout"
    chains: bool = False


class BatchItem(BaseModel):
    """One entry of ``/judge_batch``'s ``requests``."""

    model_config = ConfigDict(extra="forbid")
    prompt: str | list[dict[str, Any]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None


class BatchBody(BaseModel):
    """``POST /judge_batch``: many requests judged in one engine pass."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score"] = "compare"
    requests: list[BatchItem]
    """May be empty (answered with empty results): a client that shards a batch over several
    servers may send some of them nothing."""
    k: K = None


class RewardBody(BaseModel):
    """``POST /get_reward``: OpenRLHF's remote reward request (``openrlhf/utils/agent.py``)."""

    query: list[str]
    """May be empty: OpenRLHF's client shards the samples over every URL of
    ``--reward.remote_url`` (``_fetch_rewards_via_http``) and, in the versions that do not
    skip empty shards, sends ``{"query": [], "prompts": [], "labels": []}`` to the rest;
    they get empty lists back."""
    prompts: list[str] | None = None
    labels: list[Any] | None = None
    k: K = None
