"""verl custom rewards backed by a running ``grm serve``, one per verl reward manager.

Each compares the solution with the ground truth (reference-guided judging) and scores
P(solution is at least as good as the reference); the judge runs in its own process (and
GPU), as verl's reward-model workers do. The shapes verl calls (verl ``verl/workers/
reward_manager/*.py`` and ``verl/experimental/reward_loop/reward_manager/*.py``):

- ``naive`` / ``dapo`` managers: ``compute_score(data_source=, solution_str=, ground_truth=,
  extra_info=)`` per sample, a float or a dict with ``score`` (its other keys are logged).
- ``batch`` manager: ``compute_score_batch(data_sources=, solution_strs=, ground_truths=,
  extra_infos=)`` once per batch (numpy object arrays), a list of those: ONE request, so the
  judge samples the whole batch in one engine pass.
- the reward loop: ``async def compute_score_async(...)``, awaited concurrently per sample.
- ``prime`` manager: ``compute_score_float(data_source, solution_str, ground_truth,
  extra_info)`` positionally in a process pool; it tensorizes the result, so a float.

Every dict has the same keys (verl's batch manager collects each key into one list per
batch): ``score``, ``grm_abstained``, ``grm_k_used``, ``grm_failed``. An empty solution
scores 0 without a call. Overloaded or failing servers are retried (429 / 5xx / connection
errors, honouring ``Retry-After``); a request's own fault (4xx) raises at once with the
server's message.

No made-up rewards: a judgement that failed (the server's engine failed or timed out after
the retries, every chain abstained, the server refused the item) raises
:class:`JudgementFailed` by default, so verl fails the step loudly instead of training on
an invented score. ``on_failure="value"`` with a ``failure_value`` scores such a sample
with that stated value instead, flagged ``grm_failed=1`` (verl averages it into its
metrics). A request's own fault (a 4xx such as a wrong token) raises under either policy.

verl config (``ppo_trainer.yaml`` overrides)::

    custom_reward_function:
      path: /path/to/site-packages/grm/adapters/verl.py
      name: compute_score_batch        # with reward_model.reward_manager=batch
    # the server address and token come from the environment of the verl workers:
    #   GRM_SERVER_URL=http://127.0.0.1:8000  GRM_API_TOKEN=...  GRM_K=4

    grm serve --model my-judge --engine vllm-async --k 4 --port 8000   # on the reward host
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import Any, Literal

from grm.ground_truth import label_text
from grm.reward_map import DROP, RewardMapConfig, map_reward

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
#: Retries of a request the server could not serve (429, 5xx, connection errors).
RETRIES = 4
_QUESTION_KEYS = ("question", "problem", "query", "prompt", "raw_prompt", "instruction")

OnFailure = Literal["raise", "value"]
ON_FAILURE: tuple[str, ...] = ("raise", "value")


class JudgementFailed(RuntimeError):
    """grm could not judge a sample (the server's engine failed, every chain abstained)."""


def check_failure_policy(on_failure: str, failure_value: float | None) -> None:
    """Refuse an unknown policy, or 'value' without a finite value."""
    if on_failure not in ON_FAILURE:
        raise ValueError(
            f"on_failure must be one of {', '.join(ON_FAILURE)}, got {on_failure!r}; "
            "'raise' fails the step, 'value' scores failure_value."
        )
    if on_failure == "value" and (
        not isinstance(failure_value, (int, float)) or not math.isfinite(failure_value)
    ):
        raise ValueError(
            f"on_failure='value' needs a finite failure_value, got {failure_value!r}; "
            "e.g. custom_reward_function.reward_kwargs.failure_value=0.0."
        )


def failed_row(reason: str, on_failure: str, failure_value: float | None) -> dict[str, float]:
    """A failed judgement under the policy: raise, or the stated value flagged grm_failed."""
    if on_failure == "raise":
        raise JudgementFailed(
            f"grm could not judge this sample: {reason}. Fix the judge (k, max_tokens, the "
            "server's health), or pass on_failure='value' with a failure_value to score such "
            "samples with a stated value (flagged grm_failed=1)."
        )
    assert failure_value is not None  # check_failure_policy ran on entry
    logger.warning("grm could not judge a sample (%s); scored %s", reason, failure_value)
    return {
        "score": float(failure_value),
        "grm_abstained": 0.0,
        "grm_k_used": 0.0,
        "grm_failed": 1.0,
    }


def _server_failed(err: BaseException) -> bool:
    """The server could not judge (5xx, 429, 408 after the retries, or unreachable), as
    opposed to refusing the request itself (any other 4xx: a bad token, a bad body)."""
    import httpx

    from grm.inference.retry import ServerRefused

    if isinstance(err, ServerRefused):
        return err.retryable
    return isinstance(err, httpx.TransportError)


def _user_text(messages: Any) -> str | None:
    """The last user message of a chat prompt (a list or numpy array of message dicts)."""
    try:
        items = list(messages)
    except TypeError:
        return None
    texts = [
        str(m.get("content", ""))
        for m in items
        if isinstance(m, dict) and m.get("role", "user") == "user" and m.get("content")
    ]
    return texts[-1] if texts else None


def question_of(data_source: Any, extra_info: Any) -> str:
    """The question to judge against: from ``extra_info`` (question, problem, ...), or from the
    chat prompt stored there (its last user message), else a placeholder naming the source.

    >>> question_of("gsm8k", {"question": "2+2?"})
    '2+2?'
    >>> question_of("gsm8k", {"prompt": [{"role": "user", "content": "3+3?"}]})
    '3+3?'
    """
    info = extra_info if isinstance(extra_info, dict) else {}
    for key in _QUESTION_KEYS:
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if value is not None and not isinstance(value, str):
            text = _user_text(value)
            if text:
                return text
    return (
        f"(a task from {data_source}; extra_info carries no question, so judge the solution "
        "against the reference answer alone)"
    )


def _settings(url: str | None, token: str | None, k: int | None) -> tuple[str, dict[str, str], Any]:
    url = (url or os.environ.get("GRM_SERVER_URL") or DEFAULT_URL).rstrip("/")
    token = token or os.environ.get("GRM_API_TOKEN")
    k = k or int(os.environ.get("GRM_K", "0")) or None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return url, headers, k


def _row(
    out: dict[str, Any] | None,
    reward: RewardMapConfig = DROP,
    on_failure: str = "raise",
    failure_value: float | None = None,
) -> dict[str, float]:
    """A server answer as verl's dict (same keys always). The score is P(solution beats the
    ground truth) through :func:`grm.reward_map.map_reward`; a judgment without any verdict
    is a failed judgement (``on_failure``) unless ``reward`` states a value for it."""
    if out is None:  # an empty solution: not judged
        return {"score": 0.0, "grm_abstained": 0.0, "grm_k_used": 0.0, "grm_failed": 0.0}
    if "error" in out:
        return failed_row(f"the server refused it: {out['error']}", on_failure, failure_value)
    no_verdict = out.get("winner") == "none"
    score = map_reward("pairwise", out.get("probability"), None, no_verdict, reward)
    if score is None:
        why = (
            f"every one of its {out.get('k_used')} chains abstained"
            if no_verdict
            else ("the aggregator gave no probability")
        )
        return failed_row(why, on_failure, failure_value)
    return {
        "score": score,
        "grm_abstained": float(no_verdict),
        "grm_k_used": float(out["k_used"]),
        "grm_failed": 0.0,
    }


def _item(data_source: Any, solution: Any, truth: Any, extra_info: Any) -> dict[str, Any] | None:
    if not str(solution).strip():
        return None
    return {
        "prompt": question_of(data_source, extra_info),
        # The ground truth as JSON when it is not a string (numpy arrays, dicts: verl passes
        # Parquet columns as they are), as /get_reward does (grm.ground_truth).
        "responses": [str(solution), label_text(truth) or str(truth)],
    }


def _raise_for(url: str, response: Any) -> Any:
    from grm.inference.retry import ServerRefused, retry_after_seconds

    if response.status_code != 200:
        after = retry_after_seconds(response.headers.get("retry-after"))
        raise ServerRefused(url, response.status_code, response.text, after)
    return response.json()


def _post(
    url: str, body: dict[str, Any], headers: dict[str, str], timeout: float, retries: int
) -> Any:
    import httpx
    import tenacity

    from grm.inference.retry import retry_policy

    for attempt in tenacity.Retrying(**retry_policy(retries, 1.0, 30.0)):
        with attempt:
            return _raise_for(url, httpx.post(url, json=body, headers=headers, timeout=timeout))
    raise AssertionError("unreachable")  # pragma: no cover


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    url: str | None = None,
    token: str | None = None,
    k: int | None = None,
    timeout: float = 600.0,
    reward: RewardMapConfig = DROP,
    on_failure: OnFailure = "raise",
    failure_value: float | None = None,
    retries: int = RETRIES,
    **_: Any,
) -> dict[str, float]:
    """Score one solution against its ground truth through a grm server.

    ``url``, ``token`` and ``k`` default to ``$GRM_SERVER_URL``, ``$GRM_API_TOKEN`` and
    ``$GRM_K`` (verl's ``custom_reward_function.reward_kwargs`` may also set them).
    ``on_failure`` / ``failure_value``: what a failed judgement gives (see the module).
    """
    check_failure_policy(on_failure, failure_value)
    item = _item(data_source, solution_str, ground_truth, extra_info)
    if item is None:
        return _row(None)
    base, headers, k = _settings(url, token, k)
    body = {"mode": "compare", **item, "k": k}
    try:
        out = _post(f"{base}/judge", body, headers, timeout, retries)
    except Exception as err:
        if on_failure == "raise" or not _server_failed(err):
            raise
        return failed_row(str(err), on_failure, failure_value)
    return _row(out, reward, on_failure, failure_value)


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    url: str | None = None,
    token: str | None = None,
    k: int | None = None,
    timeout: float = 600.0,
    reward: RewardMapConfig = DROP,
    on_failure: OnFailure = "raise",
    failure_value: float | None = None,
    retries: int = RETRIES,
    **_: Any,
) -> list[dict[str, float]]:
    """verl's ``batch`` manager: the whole batch in ONE request (one engine pass)."""
    check_failure_policy(on_failure, failure_value)
    n = len(solution_strs)
    infos = list(extra_infos) if extra_infos is not None else [None] * n
    if not len(data_sources) == len(ground_truths) == len(infos) == n:
        raise ValueError(
            f"data_sources, solution_strs, ground_truths and extra_infos must have one entry "
            f"per sample; got {len(data_sources)}, {n}, {len(ground_truths)}, {len(infos)}."
        )
    items = [
        _item(d, s, g, e)
        for d, s, g, e in zip(data_sources, solution_strs, ground_truths, infos, strict=True)
    ]
    live = [i for i, it in enumerate(items) if it is not None]
    rows = [_row(None) for _ in range(n)]
    if not live:
        return rows
    base, headers, k = _settings(url, token, k)
    body = {"mode": "compare", "requests": [items[i] for i in live], "k": k}
    try:
        out = _post(f"{base}/judge_batch", body, headers, timeout, retries)
    except Exception as err:
        if on_failure == "raise" or not _server_failed(err):
            raise
        for i in live:
            rows[i] = failed_row(str(err), on_failure, failure_value)
        return rows
    for i, res in zip(live, out["results"], strict=True):
        rows[i] = _row(res, reward, on_failure, failure_value)
    return rows


async def compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    url: str | None = None,
    token: str | None = None,
    k: int | None = None,
    timeout: float = 600.0,
    reward: RewardMapConfig = DROP,
    on_failure: OnFailure = "raise",
    failure_value: float | None = None,
    retries: int = RETRIES,
    **_: Any,
) -> dict[str, float]:
    """verl's reward loop: awaited per sample, concurrently (the server batches them)."""
    import httpx
    import tenacity

    from grm.inference.retry import retry_policy

    check_failure_policy(on_failure, failure_value)
    item = _item(data_source, solution_str, ground_truth, extra_info)
    if item is None:
        return _row(None)
    base, headers, k = _settings(url, token, k)
    body = {"mode": "compare", **item, "k": k}
    try:
        async with httpx.AsyncClient(timeout=timeout, headers=headers) as client:
            async for attempt in tenacity.AsyncRetrying(**retry_policy(retries, 1.0, 30.0)):
                with attempt:
                    answer = await client.post(f"{base}/judge", json=body)
                    out = _raise_for(f"{base}/judge", answer)
    except Exception as err:
        if on_failure == "raise" or not _server_failed(err):
            raise
        return failed_row(str(err), on_failure, failure_value)
    return _row(out, reward, on_failure, failure_value)


def compute_score_float(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """verl's ``prime`` manager calls positionally and tensorizes the result: a float."""
    return compute_score(data_source, solution_str, ground_truth, extra_info, **kwargs)["score"]
