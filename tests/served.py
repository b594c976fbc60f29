"""Start a scripted-engine ``grm serve`` process on 127.0.0.1 for HTTP tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def fake_server(*args: str, ready_s: float = 60.0) -> Iterator[str]:
    """``tests/serve_fake.py`` on a free port; yields its base URL, stops it afterwards."""
    port = free_port()
    cmd = [sys.executable, str(HERE / "serve_fake.py"), "--port", str(port), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_s
    try:
        # One client for the whole wait: a client per probe builds a TLS context each time.
        with httpx.Client(timeout=2) as client:
            while True:
                if proc.poll() is not None:
                    out = proc.stdout.read() if proc.stdout else ""
                    raise RuntimeError(f"server exited: {out}")
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not healthy within {ready_s} s")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
