"""Only engine calls are guarded: engine failures are recovered or retried, bugs propagate."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from grm.inference.remote import RemoteEngine, RemoteEngineConfig, ReplicaError


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, body = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def _serve(status: int, body: str) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.reply = (status, body)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def down() -> Iterator[str]:
    yield from _serve(503, '{"error": "overloaded"}')


@pytest.fixture
def garbage() -> Iterator[str]:
    yield from _serve(200, "<html>not json</html>")


@pytest.fixture
def up() -> Iterator[str]:
    yield from _serve(200, json.dumps({"choices": [{"text": "ok"}]}))


def _engine(urls: tuple[str, ...], client: object | None = None) -> RemoteEngine:
    """The engine's request path without a tokenizer (only _post is exercised)."""
    engine = RemoteEngine.__new__(RemoteEngine)
    engine.config = RemoteEngineConfig(urls=urls, retries=len(urls) - 1, timeout_s=5)
    engine._client = client or httpx.Client(timeout=5)
    engine._lock = threading.Lock()
    engine.requests_per_url = dict.fromkeys(urls, 0)
    return engine


def test_a_failing_replica_is_skipped(down: str, garbage: str, up: str) -> None:
    engine = _engine((down, garbage, up))
    assert engine._post({"prompt": "x"}, 0) == {"choices": [{"text": "ok"}]}
    assert engine.requests_per_url == {down: 1, garbage: 1, up: 1}


def test_every_replica_failing_is_an_engine_error(down: str) -> None:
    with pytest.raises(ReplicaError, match="every server failed; last error: .*503"):
        _engine((down, down))._post({"prompt": "x"}, 0)


class _BuggyClient:
    calls = 0

    def post(self, url: str, json: object) -> object:
        _BuggyClient.calls += 1
        raise TypeError("a bug, not a network failure")


def test_a_bug_is_not_retried_as_a_replica_failure(up: str) -> None:
    with pytest.raises(TypeError, match="a bug"):
        _engine((up, up), _BuggyClient())._post({"prompt": "x"}, 0)
    assert _BuggyClient.calls == 1
