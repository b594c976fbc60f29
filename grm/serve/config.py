"""The server's configuration: where it binds, who may call it, and what one request may cost."""

from __future__ import annotations

import ipaddress
import warnings
from dataclasses import dataclass, field

from grm.reward_map import DROP, RewardMapConfig

LOOPBACK_NAMES = ("localhost",)
#: Tokens shorter than this are refused at start: a bearer token is the only lock on an
#: exposed judge.
MIN_TOKEN_CHARS = 16


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
    """Interface to bind; anything but loopback requires ``token`` or ``allow_from``."""
    port: int = 8000
    """TCP port."""
    token: str | None = None
    """Bearer token every request except /health must carry (at least 16 characters)."""
    allow_from: tuple[str, ...] = ()
    """Client networks (CIDR, e.g. ``10.0.0.0/8``) allowed without a token: for clients that
    cannot send one (OpenRLHF) on a private network. Others get 403."""
    k: int = 4
    """Chains per judgment when a request gives no k."""
    max_request_k: int = 64
    """The largest fixed k a request may ask for (more gets 422). Not the judge's own
    ``JudgeConfig.max_k``, where ``k="auto"`` stops (and what admission charges it)."""
    max_k: int | None = None
    """Deprecated: the old name of ``max_request_k`` (it was easily read as the judge's
    ``max_k``); still accepted, with a DeprecationWarning."""
    max_body_bytes: int = 1 << 20
    """Largest request body, declared or chunked; bigger gets 413."""
    max_items: int = 256
    """Most responses (/judge) or queries (/get_reward) in one request; more gets 413."""
    max_request_chains: int = 4096
    """The most chains one request may cost (a round-robin rank of n responses costs
    n(n-1)/2 x k); more gets 413."""
    max_chains: int = 16384
    """Chains admitted at once over all requests; a request that would pass it gets 429
    with ``Retry-After``."""
    request_timeout_s: float = 120.0
    """A request not answered within this gets 504 and its engine work is aborted. Below
    OpenRLHF's 180 s client timeout (aiohttp total timeout in openrlhf/utils/agent.py), so
    that client reads a clear 504 rather than its own timeout."""
    max_connections: int = 512
    """Open connections (uvicorn ``limit_concurrency``); more get 503."""
    keep_alive_s: int = 5
    """An idle keep-alive connection is closed after this (uvicorn ``timeout_keep_alive``)."""
    max_header_bytes: int = 16384
    """Largest request head (uvicorn ``h11_max_incomplete_event_size``); more is refused."""
    header_timeout_s: float = 10.0
    """The request head must arrive within this many seconds of the connection opening (or
    of a later request's first byte); else 408 and the connection is closed. A slowloris
    defence uvicorn lacks (grm.serve.deadlines); like nginx's ``client_header_timeout``."""
    body_timeout_s: float = 60.0
    """The body must arrive within this many seconds of the head; else 408 and the
    connection is closed (nginx's ``client_body_timeout``, as a total)."""
    reward: RewardMapConfig = field(default_factory=lambda: DROP)
    """/get_reward: what a judgment without any verdict (every chain abstained) earns
    (grm.reward_map). 'drop' (default): no reward is made up; the route answers 503 with
    reason 'no_verdict', which OpenRLHF's client retries and then drops. 'neutral' (0.5) or
    'value' (``abstain_value``): that stated value, counted in
    ``grm_failed_judgements_total{answer="stated_value"}``. An engine failure or a timeout
    always answers 503 / 504."""

    def __post_init__(self) -> None:
        if self.max_k is not None:
            if self.max_request_k not in (64, self.max_k):
                raise ValueError(
                    f"max_k={self.max_k} and max_request_k={self.max_request_k} disagree; "
                    "max_k is the old name of max_request_k: pass only max_request_k."
                )
            warnings.warn(
                "ServerConfig(max_k=...) is deprecated: it is the server's cap on a request's "
                "k, now called max_request_k (the judge's own max_k bounds k='auto').",
                DeprecationWarning,
                stacklevel=3,
            )
            object.__setattr__(self, "max_request_k", self.max_k)
            object.__setattr__(self, "max_k", None)
        object.__setattr__(self, "allow_from", tuple(self.allow_from))
        for net in self.allow_from:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(
                    f"allow_from entry {net!r} is not a network; write it like 10.0.0.0/8."
                ) from None
        if self.token is not None and self.token != "":
            if not self.token.isascii() or not self.token.isprintable() or " " in self.token:
                raise ValueError(
                    "token must be printable ASCII without spaces (it travels in an HTTP "
                    "header); generate one with: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'."
                )
            if len(self.token) < MIN_TOKEN_CHARS:
                raise ValueError(
                    f"token has {len(self.token)} characters, under the minimum of "
                    f"{MIN_TOKEN_CHARS}; generate one with: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'."
                )
        else:
            object.__setattr__(self, "token", None)
        if not is_loopback(self.host) and not self.token and not self.allow_from:
            raise ValueError(
                f"host={self.host!r} exposes the judge beyond this machine without a token; "
                "pass token (--token or GRM_API_TOKEN), restrict clients with allow_from "
                "(--allow-from 10.0.0.0/8), or bind 127.0.0.1."
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port}.")
        if not 1 <= self.k <= self.max_request_k:
            raise ValueError(f"k must be in 1..max_request_k={self.max_request_k}, got {self.k}.")
        for name in (
            "max_body_bytes",
            "max_items",
            "max_request_chains",
            "max_chains",
            "max_connections",
            "keep_alive_s",
            "max_header_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.max_request_chains > self.max_chains:
            raise ValueError(
                f"max_request_chains={self.max_request_chains} is over max_chains="
                f"{self.max_chains}: such a request could never be admitted; lower it."
            )
        for name in ("request_timeout_s", "header_timeout_s", "body_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)}.")
