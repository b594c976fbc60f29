"""The remote engine: OpenAI-compatible completion servers (``vllm serve``), load-balanced.

A user who outgrows one machine runs ``vllm serve`` replicas (or one server with vLLM's own
tensor / data parallelism) and points this engine at their URLs; nothing here schedules
GPUs. Prompts are rendered locally with the model's chat template (so every engine sees the
same text) and sent to ``POST /v1/completions`` with ``n`` chains each; a batch is split
into one request per URL, sent concurrently. The verdict probabilities are exact: vLLM's
``logprob_token_ids`` asks for the choice tokens' own log-probabilities in a one-token
greedy completion, with ``return_tokens_as_token_ids`` so a choice is matched by token id,
not by its spelling; forced scores read whole candidates from ``prompt_logprobs``.

vLLM on CPU rejects a per-request seed ("CPU Generator does not use offset"), so no seed is
sent unless ``send_seed`` is set; the server's own ``--seed`` then fixes the sampler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from grm.inference.base import (
    ChatTokenizer,
    Completion,
    Generation,
    GenRequest,
    SamplingConfig,
    choice_token_ids,
    continuation_ids,
    register_engine,
)

logger = logging.getLogger(__name__)


class ReplicaError(RuntimeError):
    """A server answered with an error status, or every server failed."""


@dataclass(frozen=True)
class RemoteEngineConfig:
    """Where the servers are and how to talk to them."""

    urls: tuple[str, ...] = ("http://127.0.0.1:8000",)
    """Base URLs of OpenAI-compatible servers (``/v1`` is appended); a batch is spread
    over all of them."""
    served_model_name: str | None = None
    """The name the servers know the model by; None asks the first server's /v1/models."""
    api_key: str | None = None
    """Sent as ``Authorization: Bearer``; ``vllm serve --api-key`` checks it."""
    timeout_s: float = 600.0
    """Per HTTP request."""
    max_context: int | None = None
    """Context length; None reads ``max_model_len`` from /v1/models (4096 if absent)."""
    send_seed: bool = False
    """Send the sampling seed per request (fails on vLLM-CPU; fine on GPU servers)."""
    retries: int = 1
    """Times a failed request is retried on the next URL."""

    def __post_init__(self) -> None:
        urls = (self.urls,) if isinstance(self.urls, str) else tuple(self.urls)
        object.__setattr__(self, "urls", tuple(u.rstrip("/") for u in urls))
        if not self.urls:
            raise ValueError("urls is empty; pass at least one server URL like http://host:8000.")
        for u in self.urls:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"urls entry {u!r} must start with http:// or https://.")
        if self.timeout_s <= 0 or self.retries < 0:
            raise ValueError(
                f"timeout_s must be > 0 and retries >= 0, got {self.timeout_s}, {self.retries}."
            )


def _chunks(n: int, parts: int) -> list[range]:
    """Split ``range(n)`` into at most ``parts`` contiguous, near-equal chunks.

    >>> _chunks(5, 2)
    [range(0, 3), range(3, 5)]
    """
    parts = max(1, min(parts, n))
    size, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (i < extra)
        out.append(range(start, end))
        start = end
    return out


class RemoteEngine(ChatTokenizer):
    name = "remote"

    def __init__(self, model: str, config: RemoteEngineConfig | None = None, **kw: Any):
        import httpx
        from transformers import AutoTokenizer

        if "urls" in kw and isinstance(kw["urls"], str):
            kw["urls"] = tuple(u for u in kw["urls"].split(",") if u)
        self.config = config or RemoteEngineConfig(**kw)
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        self._client = httpx.Client(timeout=self.config.timeout_s, headers=headers)
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        info = self._models()
        self.model_name = self.config.served_model_name or info.get("id") or model
        self.max_context = int(self.config.max_context or info.get("max_model_len") or 4096)
        self._pool = ThreadPoolExecutor(max_workers=max(len(self.config.urls), 1) * 2)
        self._next = 0
        self._lock = threading.Lock()
        self.requests_per_url = dict.fromkeys(self.config.urls, 0)

    def _models(self) -> dict[str, Any]:
        import httpx

        url = f"{self.config.urls[0]}/v1/models"
        try:
            resp = self._client.get(url)
            resp.raise_for_status()
        except httpx.HTTPError as exc:  # unreachable, timed out, or an error status
            raise ConnectionError(
                f"cannot reach {url} ({exc}); start the server (vllm serve MODEL) or fix urls."
            ) from None
        data = resp.json().get("data") or [{}]
        return dict(data[0])

    def _post(self, body: dict[str, Any], first: int) -> dict[str, Any]:
        """POST /v1/completions to URL ``first``, moving to the next URL on failure.

        A failure is a transport error, a non-200 status or a body that is not JSON; any
        other error is a bug and propagates at once.
        """
        import json

        import httpx

        urls = self.config.urls
        error: Exception | None = None
        for attempt in range(self.config.retries + 1):
            url = urls[(first + attempt) % len(urls)]
            try:
                resp = self._client.post(f"{url}/v1/completions", json=body)
                with self._lock:
                    self.requests_per_url[url] += 1
                if resp.status_code != 200:
                    raise ReplicaError(f"{url} answered {resp.status_code}: {resp.text[:300]}")
                return dict(resp.json())
            except (httpx.HTTPError, ReplicaError, json.JSONDecodeError) as exc:
                # A replica down, overloaded or answering garbage: try the next one.
                logger.warning("completion request to %s failed: %s", url, exc)
                error = exc
        raise ReplicaError(f"every server failed; last error: {error}")

    def _spread(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send the bodies concurrently, starting from the next URL in turn."""
        with self._lock:
            start = self._next
            self._next = (self._next + len(bodies)) % len(self.config.urls)
        futures = [self._pool.submit(self._post, b, start + i) for i, b in enumerate(bodies)]
        return [f.result() for f in futures]

    def _base(self, prompts: list[str] | list[list[int]], **params: Any) -> dict[str, Any]:
        # The prompt is already rendered with its special tokens: add none.
        return {"model": self.model_name, "prompt": prompts, "add_special_tokens": False, **params}

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        """One concurrent round of HTTP requests: grouped by n, each group split over URLs."""
        params: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p if sampling.temperature > 0 else 1.0,
            "max_tokens": sampling.max_tokens,
        }
        if self.config.send_seed and sampling.seed is not None:
            params["seed"] = sampling.seed
        by_n: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            by_n.setdefault(r.n, []).append(i)
        plan: list[tuple[int, list[int]]] = []
        for n, idxs in by_n.items():
            for chunk in _chunks(len(idxs), len(self.config.urls)):
                plan.append((n, [idxs[j] for j in chunk]))
        bodies = [self._base([requests[i].prompt for i in idxs], n=n, **params) for n, idxs in plan]
        results: list[Generation | None] = [None] * len(requests)
        for (n, idxs), out in zip(plan, self._spread(bodies), strict=True):
            choices = sorted(out["choices"], key=lambda c: c["index"])
            if len(choices) != n * len(idxs):
                raise RuntimeError(
                    f"the server returned {len(choices)} choices for {len(idxs)} prompts x n={n}."
                )
            for j, i in enumerate(idxs):
                comps = [
                    Completion(c["text"], self.count_tokens(c["text"]), c.get("finish_reason"))
                    for c in choices[j * n : (j + 1) * n]
                ]
                results[i] = Generation(self.count_tokens(requests[i].prompt), comps)
        return [r for r in results if r is not None]

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        """Exact log-probabilities of the choice tokens after one greedy step, with vLLM's
        ``logprob_token_ids`` (the server returns those ids' full-softmax values)."""
        if not prompts:
            return []
        id_lists = [choice_token_ids(self.encode, p[-64:], choices) for p in prompts]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, id_list in enumerate(id_lists):
            groups.setdefault(tuple(id_list), []).append(i)
        plan: list[tuple[tuple[int, ...], list[int]]] = []
        for key, members in groups.items():
            for part in _chunks(len(members), len(self.config.urls)):
                plan.append((key, [members[j] for j in part]))
        bodies = [
            self._base(
                [prompts[i] for i in members],
                max_tokens=1,
                temperature=0.0,
                logprobs=len(ids),
                logprob_token_ids=list(ids),
                return_tokens_as_token_ids=True,
            )
            for ids, members in plan
        ]
        result: list[list[float]] = [[] for _ in prompts]
        for (ids, members), out in zip(plan, self._spread(bodies), strict=True):
            rows = sorted(out["choices"], key=lambda c: c["index"])
            for i, c in zip(members, rows, strict=True):
                top = ((c.get("logprobs") or {}).get("top_logprobs") or [{}])[0] or {}
                by_id = {self._token_id(k): float(v) for k, v in top.items()}
                missing = [t for t in ids if t not in by_id]
                if missing:
                    raise RuntimeError(
                        f"the server returned no log-probability for token ids {missing}; "
                        "it does not honour logprob_token_ids (serve with a recent vLLM)."
                    )
                result[i] = [by_id[t] for t in ids]
        return result

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """Each candidate's summed log-probability, read from vLLM's ``prompt_logprobs`` on
        prompt + candidate token ids (sent as ids, so nothing is re-tokenised)."""
        if not prompts:
            return []
        seqs, tails = [], []
        for prompt in prompts:
            head = self.encode(prompt)
            for cand in candidates:
                tail = continuation_ids(self.encode, prompt, cand)
                seqs.append(head + tail)
                tails.append(tail)
        parts = _chunks(len(seqs), len(self.config.urls))
        bodies = [
            self._base([seqs[i] for i in part], max_tokens=1, temperature=0.0, prompt_logprobs=0)
            for part in parts
        ]
        scores = [0.0] * len(seqs)
        for part, out in zip(parts, self._spread(bodies), strict=True):
            rows = sorted(out["choices"], key=lambda c: c["index"])
            for i, c in zip(part, rows, strict=True):
                per_token = c.get("prompt_logprobs") or []
                seq, tail = seqs[i], tails[i]
                total = 0.0
                for pos in range(len(seq) - len(tail), len(seq)):
                    entry = (per_token[pos] or {}).get(str(seq[pos]))
                    if entry is None:
                        raise RuntimeError(
                            "the server returned no prompt log-probability for token "
                            f"{seq[pos]}; serve with vLLM (prompt_logprobs)."
                        )
                    total += float(entry["logprob"] if isinstance(entry, dict) else entry)
                scores[i] = total
        k = len(candidates)
        return [scores[i * k : (i + 1) * k] for i in range(len(prompts))]

    def _token_id(self, key: str) -> int:
        """vLLM spells a token ``token_id:123`` when asked; fall back to the text."""
        if key.startswith("token_id:"):
            return int(key.split(":", 1)[1])
        ids = self.encode(key)
        return ids[0] if len(ids) == 1 else -1

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._client.close()


@register_engine("remote")
def _make(model: str, **options: Any) -> RemoteEngine:
    return RemoteEngine(model, **options)
