"""Retrying HTTP calls the way a well-behaved client should, with tenacity.

Only failures that may pass are retried: connection errors, timeouts, 408, 429 and 5xx. Any
other 4xx is the request's own fault and would fail the same way again, so it fails at
once. Waits grow exponentially with jitter, and a server's ``Retry-After`` (seconds or an
HTTP date) is honoured, capped at ``max_backoff_s``. Used by the remote engine and the
trainer adapters that call ``grm serve``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any

logger = logging.getLogger(__name__)


class ReplicaError(RuntimeError):
    """A server answered with an error status or garbage, or every server failed."""


class ServerRefused(ReplicaError):
    """A server answered with an error status; ``retryable`` says whether to try again."""

    def __init__(self, url: str, status: int, text: str, retry_after: float | None) -> None:
        super().__init__(f"{url} answered {status}: {text[:300]}")
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        # 408/429/5xx may pass; any other 4xx (bad body, unknown model, auth) never will.
        return self.status in (408, 429) or self.status >= 500


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date).

    >>> retry_after_seconds("3")
    3.0
    >>> retry_after_seconds("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def should_retry(exc: BaseException) -> bool:
    """Whether a failure may pass on another try (see the module docstring)."""
    if isinstance(exc, ServerRefused):
        return exc.retryable
    if isinstance(exc, ReplicaError):
        return True
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError))


def retry_policy(
    retries: int, backoff_s: float = 0.5, max_backoff_s: float = 30.0
) -> dict[str, Any]:
    """Arguments for tenacity (the ``serve`` extra): retry what may pass, back off
    exponentially with jitter, and wait
    at least what ``Retry-After`` asks for (capped at ``max_backoff_s``)."""
    import tenacity

    backoff = tenacity.wait_exponential(
        multiplier=backoff_s, max=max_backoff_s
    ) + tenacity.wait_random(0, backoff_s)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        delay = float(backoff(state))
        if asked is not None:
            delay = max(delay, float(asked))
        return float(min(delay, max_backoff_s))

    return {
        "retry": tenacity.retry_if_exception(should_retry),
        "stop": tenacity.stop_after_attempt(retries + 1),
        "wait": wait,
        "reraise": True,
        "before_sleep": lambda s: logger.warning(
            "HTTP request failed (try %d), retrying: %s",
            s.attempt_number,
            s.outcome.exception() if s.outcome is not None else "",
        ),
    }
