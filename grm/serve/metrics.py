"""Prometheus metrics of one server (``prometheus_client``, a registry per app).

Route labels are bounded: a path the server does not serve is counted as ``other``, so a
scan of random URLs cannot grow the label set.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ROUTES = ("/judge", "/judge_batch", "/get_reward", "/health", "/metrics", "/docs", "/openapi.json")


def route_label(path: str) -> str:
    """The path when it is a known route, else 'other'.

    >>> route_label("/judge"), route_label("/wp-admin")
    ('/judge', 'other')
    """
    return path if path in ROUTES else "other"


class Metrics:
    """The server's counters; ``render()`` is the /metrics body."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "grm_requests", "HTTP requests by route and status code", ["route", "code"], registry=r
        )
        self.seconds = Histogram(
            "grm_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )
        self.engine_calls = Counter(
            "grm_engine_calls", "Engine calls by kind (generate, choice)", ["kind"], registry=r
        )
        self.engine_failures = Counter(
            "grm_engine_failures", "Requests answered 503 because the engine failed", registry=r
        )
        self.timeouts = Counter(
            "grm_timeouts", "Requests answered 504 (deadline passed, work aborted)", registry=r
        )
        self.client_disconnects = Counter(
            "grm_client_disconnects",
            "Requests whose client left before the answer (engine work aborted)",
            registry=r,
        )
        self.rejected = Counter(
            "grm_rejected", "Requests refused by admission", ["reason"], registry=r
        )
        self.failed_judgements = Counter(
            "grm_failed_judgements",
            "Judgements that failed (reason: engine_error, timeout, no_verdict), by what was "
            "answered (error: a 5xx; stated_value: /get_reward's configured value)",
            ["reason", "answer"],
            registry=r,
        )
        self.chains = Counter("grm_chains", "Chains sampled for answered requests", registry=r)
        self.chains_in_flight = Gauge(
            "grm_chains_in_flight", "Chains admitted and not yet answered", registry=r
        )
        self.requests_in_flight = Gauge(
            "grm_requests_in_flight", "Requests being judged", registry=r
        )

    def observe(self, path: str, code: int, seconds: float) -> None:
        route = route_label(path)
        self.requests.labels(route, str(code)).inc()
        self.seconds.labels(route).observe(seconds)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def value(self, name: str, **labels: Any) -> float:
        """A sample's current value (for tests and the load benchmark)."""
        got = self.registry.get_sample_value(name, labels or None)
        return 0.0 if got is None else float(got)
