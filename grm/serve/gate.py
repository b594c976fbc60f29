"""The ASGI gate in front of every route: who may call, how big a body may be, metrics.

It runs before routing, so a request is authenticated before its body is read or parsed.

- Bearer token: the scheme is matched case-insensitively (RFC 7235); the token is compared
  in constant time as bytes, so a header with non-ASCII bytes is a 401, never a 500.
  ``/health`` needs no token but then says only up or down.
- No token on loopback: a ``Host`` header that is not a loopback name is refused (403), so a
  web page cannot reach the judge through DNS rebinding.
- ``allow_from``: client addresses outside those networks are refused (403).
- Bodies over the limit get 413, whether declared by Content-Length or streamed chunked;
  once a streamed body passes the limit the app's own answer is discarded.
- A client that disconnects before its answer: once the body is read, the gate listens for
  the ASGI ``http.disconnect`` message and cancels the request's task, which aborts its
  engine work (vLLM requests aborted, remote calls closed, admitted chains released); it is
  counted in ``grm_client_disconnects`` and logged with status 499 (nginx's "client closed
  request"). Starlette does not do this for plain responses: a handler runs to its end
  after its client left.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import time
from typing import Any

from grm.serve.config import ServerConfig, is_loopback
from grm.serve.metrics import Metrics

logger = logging.getLogger(__name__)

#: Paths served without a token (with a token they say more).
OPEN_PATHS = ("/health",)
#: The status recorded for a request whose client left before its answer (nginx's code).
CLIENT_CLOSED = 499


def bearer_ok(header: bytes | None, token: str) -> bool:
    """Whether an Authorization header carries ``token`` (scheme case-insensitive).

    >>> bearer_ok(b"bearer abc", "abc"), bearer_ok(b"Basic abc", "abc"), bearer_ok(None, "abc")
    (True, False, False)
    """
    if header is None:
        return False
    scheme, _, credentials = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(credentials.strip(), token.encode("ascii"))


def host_name(header: bytes | None) -> str:
    """The host name of a Host header, without port or IPv6 brackets.

    >>> host_name(b"127.0.0.1:8000"), host_name(b"[::1]:80"), host_name(b"evil.example")
    ('127.0.0.1', '::1', 'evil.example')
    """
    text = (header or b"").decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class Gate:
    """ASGI middleware: host check, allow-list, authentication, body limit, metrics."""

    def __init__(self, app: Any, config: ServerConfig, metrics: Metrics) -> None:
        self.app = app
        self.cfg = config
        self.metrics = metrics
        self.networks = [ipaddress.ip_network(n, strict=False) for n in config.allow_from]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope.get("path", "")
        status = {"code": 500}

        async def counted(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, counted, path)
        finally:
            self.metrics.observe(path, status["code"], time.perf_counter() - start)

    async def _handle(self, scope: Any, receive: Any, send: Any, path: str) -> None:
        headers = dict(scope.get("headers") or [])
        refused = self._refusal(scope, headers)
        if refused is not None:
            await _answer(send, *refused)
            return
        authorized = self.cfg.token is None or bearer_ok(
            headers.get(b"authorization"), self.cfg.token
        )
        if not authorized and path not in OPEN_PATHS:
            await _answer(
                send,
                401,
                "missing or wrong bearer token; send the header 'Authorization: Bearer <token>'.",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        scope.setdefault("state", {})["authorized"] = authorized
        await self._limited(scope, receive, send, headers)

    def _refusal(self, scope: Any, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        if self.networks:
            client = (scope.get("client") or ("",))[0]
            try:
                ip = ipaddress.ip_address(client)
            except ValueError:
                ip = None
            if ip is None or not any(ip in net for net in self.networks):
                return 403, f"client {client} is not in the allowed networks (--allow-from)."
        elif self.cfg.token is None:
            host = host_name(headers.get(b"host"))
            if not is_loopback(host):
                return (
                    403,
                    f"Host {host!r} is not a loopback name; without a token this server only "
                    "answers requests addressed to localhost, 127.0.0.1 or ::1 (a guard "
                    "against DNS rebinding). Set a token to serve other names.",
                )
        return None

    async def _limited(
        self, scope: Any, receive: Any, send: Any, headers: dict[bytes, bytes]
    ) -> None:
        limit = self.cfg.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        seen = 0
        state = {"over": False, "started": False, "answered": False}
        body_read = asyncio.Event()

        async def limited_receive() -> Any:
            nonlocal seen
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    state["over"] = True
                    if not state["started"]:
                        state["started"] = True
                        await _too_large(send, limit)
                    return {"type": "http.disconnect"}
                if not message.get("more_body", False):
                    body_read.set()
            return message

        async def guarded_send(message: Any) -> None:
            if state["over"]:
                return  # the 413 went out; the app's own answer is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state["answered"] = True
            await send(message)

        app = asyncio.ensure_future(self.app(scope, limited_receive, guarded_send))
        watcher = asyncio.ensure_future(_watch(receive, body_read, app, state))
        try:
            await app
        except asyncio.CancelledError:
            if not state.get("gone"):
                raise  # the server is shutting down, not a client gone
            self.metrics.client_disconnects.inc()
            await send({"type": "http.response.start", "status": CLIENT_CLOSED, "headers": []})
        except Exception:
            if state["over"]:
                return
            if state["answered"]:
                # The answer went out whole: re-raising would make uvicorn close a keep-alive
                # connection its client may already be reusing (issue: good requests failed
                # on connections shared with bad ones). Log it and keep the connection.
                logger.exception("error after the answer to %s was sent", scope.get("path"))
                return
            raise
        finally:
            for task in (app, watcher):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _watch(
    receive: Any, body_read: asyncio.Event, app: asyncio.Future[Any], state: Any
) -> None:
    """Cancel ``app`` when its client disconnects before the answer went out.

    Listens only after the app has read the whole body (so no body message is taken from
    it); after that, the server's ``receive`` returns only ``http.disconnect``, when the
    connection is lost or the response is complete.
    """
    await body_read.wait()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
    if not state["answered"] and not app.done():
        state["gone"] = True
        app.cancel()


async def _answer(
    send: Any, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Any, limit: int) -> None:
    await _answer(
        send,
        413,
        f"request body is over the {limit}-byte limit; send fewer or shorter items, or raise "
        "--max-body-bytes.",
        [(b"connection", b"close")],
    )
