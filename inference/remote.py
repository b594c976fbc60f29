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

import asyncio
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
from grm.inference.retry import (
    ReplicaError,
    ServerRefused,
    retry_after_seconds,
    retry_policy,
    should_retry,
)

logger = logging.getLogger(__name__)


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
    retries: int = 3
    """Times a failed request is retried (each retry on the next URL). Only failures that
    may pass are retried: connection errors, timeouts, 408, 429 and 5xx; another 4xx is the
    request's own fault and fails at once."""
    backoff_s: float = 0.5
    """First retry delay; it doubles each retry (with jitter) up to ``max_backoff_s``.
    A server's ``Retry-After`` header takes precedence."""
    max_backoff_s: float = 30.0
    """Longest wait between two tries, ``Retry-After`` included."""

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
        if self.backoff_s < 0 or self.max_backoff_s < self.backoff_s:
            raise ValueError(
                f"backoff_s must be >= 0 and max_backoff_s >= backoff_s, got {self.backoff_s} "
                f"and {self.max_backoff_s}."
            )


def _gave_up(exc: Exception) -> Exception:
    """After the last try of a retryable failure: one error saying every server failed.
    A failure that is not retried (a 4xx, a bug) stays itself."""
    if should_retry(exc):
        return ReplicaError(f"every server failed; last error: {exc}")
    return exc


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
        self._headers = headers
        self._client = httpx.Client(timeout=self.config.timeout_s, headers=headers)
        self._aclients: dict[Any, Any] = {}
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

    def _policy(self) -> dict[str, Any]:
        c = self.config
        return retry_policy(c.retries, c.backoff_s, c.max_backoff_s)

    def _check(self, url: str, resp: Any) -> dict[str, Any]:
        with self._lock:
            self.requests_per_url[url] += 1
        if resp.status_code != 200:
            after = retry_after_seconds(resp.headers.get("retry-after"))
            raise ServerRefused(url, resp.status_code, resp.text, after)
        try:
            return dict(resp.json())
        except ValueError:  # a replica answering garbage: try the next one
            raise ReplicaError(
                f"{url} answered 200 with a body that is not JSON: {resp.text[:200]}"
            ) from None

    def _post(self, body: dict[str, Any], first: int) -> dict[str, Any]:
        """POST /v1/completions to URL ``first``; each retry goes to the next URL."""
        import tenacity

        urls = self.config.urls
        tries = iter(range(first, first + 10**9))
        try:
            for attempt in tenacity.Retrying(**self._policy()):
                with attempt:
                    url = urls[next(tries) % len(urls)]
                    return self._check(url, self._client.post(f"{url}/v1/completions", json=body))
        except Exception as exc:
            raise _gave_up(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _apost(self, body: dict[str, Any], first: int) -> dict[str, Any]:
        """The async :meth:`_post`, over one shared ``httpx.AsyncClient`` per event loop."""
        import tenacity

        urls = self.config.urls
        client = self._async_client()
        tries = iter(range(first, first + 10**9))
        try:
            async for attempt in tenacity.AsyncRetrying(**self._policy()):
                with attempt:
                    url = urls[next(tries) % len(urls)]
                    resp = await client.post(f"{url}/v1/completions", json=body)
                    return self._check(url, resp)
        except Exception as exc:
            raise _gave_up(exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _async_client(self) -> Any:
        import httpx

        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = httpx.AsyncClient(timeout=self.config.timeout_s, headers=self._headers)
            self._aclients[loop] = client
        return client

    def _starts(self, count: int) -> int:
        """The URL index the next ``count`` bodies start from (round robin)."""
        with self._lock:
            start = self._next
            self._next = (self._next + count) % len(self.config.urls)
        return start

    def _spread(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send the bodies concurrently, starting from the next URL in turn."""
        start = self._starts(len(bodies))
        futures = [self._pool.submit(self._post, b, start + i) for i, b in enumerate(bodies)]
        return [f.result() for f in futures]

    async def _aspread(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        start = self._starts(len(bodies))
        return list(
            await asyncio.gather(*(self._apost(b, start + i) for i, b in enumerate(bodies)))
        )

    def _base(self, prompts: list[str] | list[list[int]], **params: Any) -> dict[str, Any]:
        # The prompt is already rendered with its special tokens: add none.
        return {"model": self.model_name, "prompt": prompts, "add_special_tokens": False, **params}

    def _generate_plan(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> tuple[list[tuple[int, list[int]]], list[dict[str, Any]]]:
        """Bodies grouped by n, each group split over the URLs."""
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
        return plan, bodies

    def _generations(
        self,
        requests: Sequence[GenRequest],
        plan: list[tuple[int, list[int]]],
        outs: list[dict[str, Any]],
    ) -> list[Generation]:
        results: list[Generation | None] = [None] * len(requests)
        for (n, idxs), out in zip(plan, outs, strict=True):
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

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        """One concurrent round of HTTP requests: grouped by n, each group split over URLs."""
        plan, bodies = self._generate_plan(requests, sampling)
        return self._generations(requests, plan, self._spread(bodies))

    async def agenerate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        """The async :meth:`generate` (the servers batch concurrent callers themselves)."""
        plan, bodies = self._generate_plan(requests, sampling)
        return self._generations(requests, plan, await self._aspread(bodies))

    def _choice_plan(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> tuple[list[tuple[tuple[int, ...], list[int]]], list[dict[str, Any]]]:
        """Prompts grouped by their choice token ids, each group split over the URLs."""
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
        return plan, bodies

    def _choice_values(
        self,
        n_prompts: int,
        plan: list[tuple[tuple[int, ...], list[int]]],
        outs: list[dict[str, Any]],
    ) -> list[list[float]]:
        result: list[list[float]] = [[] for _ in range(n_prompts)]
        for (ids, members), out in zip(plan, outs, strict=True):
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

    def choice_logprobs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        """Exact log-probabilities of the choice tokens after one greedy step, with vLLM's
        ``logprob_token_ids`` (the server returns those ids' full-softmax values)."""
        if not prompts:
            return []
        plan, bodies = self._choice_plan(prompts, choices)
        return self._choice_values(len(prompts), plan, self._spread(bodies))

    async def achoice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[str]
    ) -> list[list[float]]:
        if not prompts:
            return []
        plan, bodies = self._choice_plan(prompts, choices)
        return self._choice_values(len(prompts), plan, await self._aspread(bodies))

    def _sequence_plan(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> tuple[list[list[int]], list[list[int]], list[range], list[dict[str, Any]]]:
        """prompt + candidate token ids for every pair, split over the URLs."""
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
        return seqs, tails, parts, bodies

    @staticmethod
    def _sequence_values(
        n_candidates: int,
        seqs: list[list[int]],
        tails: list[list[int]],
        parts: list[range],
        outs: list[dict[str, Any]],
    ) -> list[list[float]]:
        scores = [0.0] * len(seqs)
        for part, out in zip(parts, outs, strict=True):
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
        k = n_candidates
        return [scores[i * k : (i + 1) * k] for i in range(len(seqs) // max(k, 1))]

    def sequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        """Each candidate's summed log-probability, read from vLLM's ``prompt_logprobs`` on
        prompt + candidate token ids (sent as ids, so nothing is re-tokenised)."""
        if not prompts:
            return []
        seqs, tails, parts, bodies = self._sequence_plan(prompts, candidates)
        return self._sequence_values(len(candidates), seqs, tails, parts, self._spread(bodies))

    async def asequence_logprobs(
        self, prompts: Sequence[str], candidates: Sequence[str]
    ) -> list[list[float]]:
        if not prompts:
            return []
        seqs, tails, parts, bodies = self._sequence_plan(prompts, candidates)
        outs = await self._aspread(bodies)
        return self._sequence_values(len(candidates), seqs, tails, parts, outs)

    def _token_id(self, key: str) -> int:
        """vLLM spells a token ``token_id:123`` when asked; fall back to the text."""
        if key.startswith("token_id:"):
            return int(key.split(":", 1)[1])
        ids = self.encode(key)
        return ids[0] if len(ids) == 1 else -1

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._client.close()
        # Async clients belong to their event loops; a loop that is gone took its sockets.
        for loop, client in list(self._aclients.items()):
            if not loop.is_closed() and loop.is_running():
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)
        self._aclients.clear()


@register_engine("remote")
def _make(model: str, **options: Any) -> RemoteEngine:
    return RemoteEngine(model, **options)
