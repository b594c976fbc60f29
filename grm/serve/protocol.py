"""The request bodies of the HTTP routes (pydantic schemas), as vLLM keeps its own in
``vllm/entrypoints/openai/*/protocol.py``: what each route accepts, validated before any
judging starts. Unknown fields are refused (422 naming them), except on ``/get_reward``,
whose client (OpenRLHF) may add columns in later versions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: A request's k: chains per judgment, "auto" (adaptive, up to the judge's ``max_k``), or
#: None (the server's default ``k``).
K = int | Literal["auto"] | None


def surrogate_path(value: Any, path: str = "body") -> str | None:
    """Where a lone UTF-16 surrogate sits in a parsed JSON value (keys included), or None.

    JSON may escape one (``"\\ud800"``) and Python's json module decodes it, but no UTF-8
    text can hold it: the judge's tokenizer and the JSON answer would both fail on it.

    >>> surrogate_path({"k": 1, "prompt": ["ok", chr(0xD800)]})
    'body.prompt[1]'
    >>> surrogate_path({"fine": "text"}) is None
    True
    """
    if isinstance(value, str):
        return path if any("\ud800" <= c <= "\udfff" for c in value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and surrogate_path(key) is not None:
                return f"{path} (a key)"
            found = surrogate_path(item, f"{path}.{key}")
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = surrogate_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


class Body(BaseModel):
    """A request body: refuses lone surrogates anywhere before field validation."""

    @model_validator(mode="before")
    @classmethod
    def _no_lone_surrogates(cls, data: Any) -> Any:
        where = surrogate_path(data)
        if where is not None:
            raise ValueError(
                f"{where} holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), "
                "which is not text; send valid Unicode (pair the surrogates or drop them)."
            )
        return data


class JudgeBody(Body):
    """``POST /judge``: one prompt and its responses."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score", "rank"] = "compare"
    prompt: str | list[dict[str, Any]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None
    k: K = None
    method: str = "knockout"
    chains: bool = False


class BatchItem(Body):
    """One entry of ``/judge_batch``'s ``requests``."""

    model_config = ConfigDict(extra="forbid")
    prompt: str | list[dict[str, Any]]
    responses: list[str] = Field(min_length=1)
    reference: str | None = None


class BatchBody(Body):
    """``POST /judge_batch``: many requests judged in one engine pass."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["compare", "score"] = "compare"
    requests: list[BatchItem]
    """May be empty (answered with empty results): a client that shards a batch over several
    servers may send some of them nothing."""
    k: K = None


class RewardBody(Body):
    """``POST /get_reward``: OpenRLHF's remote reward request (``openrlhf/utils/agent.py``)."""

    query: list[str]
    """May be empty: OpenRLHF's client shards the samples over every URL of
    ``--reward.remote_url`` (``_fetch_rewards_via_http``) and, in the versions that do not
    skip empty shards, sends ``{"query": [], "prompts": [], "labels": []}`` to the rest;
    they get empty lists back."""
    prompts: list[str] | None = None
    labels: list[Any] | None = None
    k: K = None
