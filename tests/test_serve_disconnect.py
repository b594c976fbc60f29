"""A client that leaves, and a client that trickles: the real server process on 127.0.0.1.

- A request whose client disconnects (closes its socket, or gives up on its own timeout)
  has its engine work cancelled at once, not at the deadline: the engine records the
  cancellation, the admitted chains are released, the disconnect is counted, and the
  service goes on answering.
- A client that sends nothing, or trickles its request head or body, is cut at the
  header or body deadline (408, connection closed), while a prompt client is answered.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fault_engine import STALL_FORCED

PAIR = {"prompt": "What is 2 + 2?", "responses": ["4", "5"], "k": 2}


@pytest.fixture(scope="module")
def hanging(loopback_server: tuple[str, Path]) -> tuple[str, Path]:
    """The shared loopback server (conftest): a prompt saying HANG hangs its engine calls
    (120 s deadline); every engine call is logged to ``events``; 1.5 s head/body deadlines."""
    return loopback_server


def _count(events: Path, word: str) -> int:
    return events.read_text().split().count(word)


def _wait_for(events: Path, word: str, n: int, within_s: float) -> float:
    """Seconds until ``events`` holds ``n`` lines ``word``; fails after ``within_s``."""
    start = time.monotonic()
    while _count(events, word) < n:
        assert time.monotonic() - start < within_s, (word, n, events.read_text())
        time.sleep(0.05)
    return time.monotonic() - start


def _metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _raw_post(url: str, body: bytes) -> socket.socket:
    """POST /judge on a plain socket (the test closes it when it likes)."""
    u = urlparse(url)
    sock = socket.create_connection((u.hostname, u.port))
    head = (
        f"POST /judge HTTP/1.1\r\nHost: 127.0.0.1:{u.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def test_a_client_that_leaves_cancels_its_engine_work(hanging: tuple[str, Path]) -> None:
    url, events = hanging
    bodies: list[dict[str, Any]] = [
        {**PAIR, "prompt": "HANG compare"},  # awaited on the event loop
        {"mode": "rank", "method": "knockout", "prompt": "HANG rank",  # its rounds awaited too
         "responses": ["a", "b", "c"], "k": 1},
        # A pointwise rank whose chains give no score: it stops in the forced score read.
        {"mode": "rank", "method": "pointwise", "prompt": f"{STALL_FORCED} rank",
         "responses": ["a", "b"], "k": 2},
    ]  # fmt: skip
    gone = _metric(url, "grm_client_disconnects_total")
    closed = _metric(url, 'grm_requests_total{code="499",route="/judge"}')
    cancelled = _count(events, "cancelled")
    for body in bodies:
        started = _count(events, "start")
        sock = _raw_post(url, json.dumps(body).encode())
        # The pointwise rank hangs in its second engine call (sampling answers at once).
        calls = 2 if STALL_FORCED in body["prompt"] else 1
        _wait_for(events, "start", started + calls, within_s=30)
        sock.close()  # the client hangs up mid-request
        # Cancelled within seconds, not at the 120 s deadline.
        cancelled += 1
        assert _wait_for(events, "cancelled", cancelled, within_s=10) < 10
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
    # A client that gives up on its own timeout is a client gone too.
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}/judge", json={**PAIR, "prompt": "HANG timeout"}, timeout=1.0)
    cancelled += 1
    _wait_for(events, "cancelled", cancelled, within_s=10)
    start = time.monotonic()
    while _metric(url, "grm_requests_in_flight") > 0:  # the cancellation has finished
        assert time.monotonic() - start < 10
        time.sleep(0.05)
    assert _metric(url, "grm_chains_in_flight") == 0  # the admitted chains were released
    assert _metric(url, "grm_client_disconnects_total") == gone + 4
    assert _metric(url, 'grm_requests_total{code="499",route="/judge"}') == closed + 4
    assert _metric(url, "grm_timeouts_total") == 0
    # The service still answers, and a request that finishes is not counted as gone.
    r = httpx.post(f"{url}/judge", json=PAIR, timeout=30)
    assert r.status_code == 200 and r.json()["k_used"] == 2
    assert _metric(url, "grm_client_disconnects_total") == gone + 4
    assert _count(events, "cancelled") == cancelled


def _cut_within(sock: socket.socket, within_s: float) -> tuple[float, bytes]:
    """Seconds until the server closes ``sock``, and what it sent before."""
    sock.settimeout(within_s)
    start, got = time.monotonic(), b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return time.monotonic() - start, got
        got += chunk


def test_slow_clients_are_cut_at_the_header_and_body_deadlines(
    hanging: tuple[str, Path],
) -> None:
    url, _ = hanging
    port = urlparse(url).port
    assert port is not None
    # A connection that never sends a byte.
    idle = socket.create_connection(("127.0.0.1", port))
    # A slowloris head: one header line, then a byte now and then, never the blank line.
    loris = socket.create_connection(("127.0.0.1", port))
    loris.sendall(f"POST /judge HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-a: ".encode())
    # A complete head whose body trickles.
    body = socket.create_connection(("127.0.0.1", port))
    body.sendall(
        f"POST /judge HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 200\r\n\r\n{".encode()
    )
    start = time.monotonic()
    for _ in range(6):  # trickling does not extend the deadline
        time.sleep(0.3)
        for sock in (loris, body):
            with contextlib.suppress(OSError):
                sock.sendall(b"x")
    # Meanwhile a prompt client is answered.
    assert httpx.post(f"{url}/judge", json=PAIR, timeout=30).status_code == 200
    for sock in (idle, loris, body):
        waited, got = _cut_within(sock, within_s=15)
        assert time.monotonic() - start < 10, "not cut near the 1.5 s deadline"
        assert got.startswith(b"HTTP/1.1 408"), got
        sock.close()
    # A kept-alive client that waits between requests is not cut by the header deadline.
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/judge", json=PAIR).status_code == 200
        time.sleep(2.0)  # past the header deadline, inside the 5 s keep-alive
        assert http.post("/judge", json=PAIR).status_code == 200
