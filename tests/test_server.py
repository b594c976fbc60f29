"""A real ``grm serve`` process on the embedded model (transformers engine) on 127.0.0.1,
called over HTTP: judge, rank, get_reward, verl's compute_score, 401 / 413 / 422, metrics.
The server's rules on a scripted engine are in test_serve_http.py and test_chaos.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from grm.cli import main as cli_main
from grm.server import ServerConfig, is_loopback


def test_binding_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(ValueError, match="host='0.0.0.0' exposes the judge"):
        ServerConfig(host="0.0.0.0")
    assert ServerConfig(host="0.0.0.0", token="s3cret-of-16-chars").token == "s3cret-of-16-chars"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.org")


def test_cli_refuses_an_open_bind_before_loading_a_model(capsys: Any) -> None:
    env_token = os.environ.pop("GRM_API_TOKEN", None)
    try:
        assert cli_main(["serve", "--host", "0.0.0.0", "--token", ""]) == 2
    finally:
        if env_token is not None:
            os.environ["GRM_API_TOKEN"] = env_token
    assert "without a token" in capsys.readouterr().err


# --- A real server process ---------------------------------------------------------------

TOKEN = "test-token-of-24-chars!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(default_model_path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "grm.cli", "serve", "--engine", "transformers",
        "--model", str(default_model_path), "--port", str(port), "--token", TOKEN,
        "--k", "2", "--max-tokens", "4", "--max-body-bytes", "20000", "--max-items", "16",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"grm serve exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("grm serve did not become healthy within 300 s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.slow
def test_server_judges_ranks_and_rewards_over_http(server: str) -> None:
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}  # no token: up/down only
    health = httpx.get(f"{server}/health", headers=AUTH).json()
    assert health["status"] == "ok" and health["engine"] == "transformers"
    body = {"prompt": "What is 2 + 2?", "responses": ["4", "5"], "k": 2, "chains": True}
    r = httpx.post(f"{server}/judge", json=body, headers=AUTH, timeout=300)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["k_used"] == 2 and len(out["chains"]) == 2 and out["winner"] in ("A", "B", "tie")
    rank = {"mode": "rank", "method": "knockout", "prompt": "2+2?", "responses": ["4", "5", "3"]}
    r = httpx.post(f"{server}/judge", json={**rank, "k": 1}, headers=AUTH, timeout=300)
    assert r.status_code == 200, r.text
    assert r.json()["comparisons"] == 2 and sorted(r.json()["order"]) == [0, 1, 2]
    # OpenRLHF: a labelled query is compared with its label, an unlabelled one scored alone.
    reward = {
        "query": ["Q: 2+2? A: 4", "Q: 3+3? A: 6", "Q: 1+1? A:"],
        "prompts": ["Q: 2+2? A:", "Q: 3+3? A:", "Q: 1+1? A:"],
        "labels": ["4", None, "2"],
    }
    r = httpx.post(f"{server}/get_reward", json=reward, headers=AUTH, timeout=300)
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got["rewards"]) == len(got["scores"]) == 3
    assert all(0.0 <= x <= 1.0 for x in got["rewards"][:2]) and got["rewards"][2] == 0.0
    assert got["extra_logs"]["grm_k_used"] == [2.0, 2.0, 0.0]


@pytest.mark.slow
def test_verl_compute_score_calls_the_server(server: str) -> None:
    from grm.adapters.verl import compute_score

    out = compute_score(
        "arith", "The answer is 4.", "4", {"question": "What is 2 + 2?"},
        url=server, token=TOKEN, k=2,
    )  # fmt: skip
    assert 0.0 <= out["score"] <= 1.0 and out["grm_k_used"] == 2.0
    assert compute_score("arith", "  ", "4", url=server, token=TOKEN)["score"] == 0.0


@pytest.mark.slow
def test_server_refuses_bad_requests_with_clear_codes(server: str) -> None:
    ok = {"prompt": "q", "responses": ["a", "b"], "k": 1}
    r = httpx.post(f"{server}/judge", json=ok)
    assert r.status_code == 401 and "bearer token" in r.json()["detail"]
    r = httpx.post(f"{server}/judge", json=ok, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert httpx.get(f"{server}/metrics").status_code == 401
    bad = httpx.post(
        f"{server}/judge",
        content=b"{not json",
        headers={**AUTH, "content-type": "application/json"},
    )
    assert bad.status_code == 422
    r = httpx.post(f"{server}/judge", json={**ok, "responses": ["a", " "]}, headers=AUTH)
    assert r.status_code == 422 and "responses[1]" in r.text
    r = httpx.post(f"{server}/judge", json={**ok, "k": 1000}, headers=AUTH)
    assert r.status_code == 422 and "k must be" in r.text
    big = {**ok, "responses": ["x" * 30000, "y"]}
    r = httpx.post(f"{server}/judge", json=big, headers=AUTH)
    assert r.status_code == 413 and "20000-byte limit" in r.json()["detail"]
    many = {"mode": "score", "prompt": "q", "responses": ["a"] * 17}
    r = httpx.post(f"{server}/judge", json=many, headers=AUTH)
    assert r.status_code == 413 and "limit of 16" in r.json()["detail"]
    metrics = httpx.get(f"{server}/metrics", headers=AUTH).text
    assert 'grm_requests_total{code="401",route="/judge"}' in metrics
    assert 'grm_engine_calls_total{kind="generate"}' in metrics


@pytest.mark.slow
def test_server_survives_clients_that_vanish_or_send_garbage(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    body = b'{"prompt": "What is 2 + 2?", "responses": ["4", "5"], "k": 2}'
    head = (
        f"POST /judge HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    # half a body then a hang-up; a whole request then a hang-up before the answer; not HTTP
    for payload in (head + body[: len(body) // 2], head + body, b"\x00\xff\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(payload)
    ok = {"prompt": "What is 3 + 3?", "responses": ["6", "7"], "k": 2}
    r = httpx.post(f"{server}/judge", json=ok, headers=AUTH, timeout=300)
    assert r.status_code == 200 and r.json()["k_used"] == 2
    assert httpx.get(f"{server}/health").json()["status"] == "ok"


@pytest.mark.slow
def test_openrlhf_exact_shape_on_the_real_model(server: str, default_model_path: Path) -> None:
    """OpenRLHF's client on the real judge: the query decoded with special tokens kept, the
    prompt, a numeric label; the reward is a probability and nothing is dropped."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_path)
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is 6 x 7?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    action = tok("The answer is 42.", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    query = tok.decode(ids + action, skip_special_tokens=False)
    payload = {"query": [query], "prompts": [prompt], "labels": [42]}
    r = httpx.post(f"{server}/get_reward", json=payload, timeout=170)  # no token: 401
    assert r.status_code == 401
    r = httpx.post(f"{server}/get_reward", json=payload, headers=AUTH, timeout=170)
    assert r.status_code == 200, r.text
    out = r.json()
    assert 0.0 <= out["rewards"][0] <= 1.0 and out["extra_logs"]["grm_k_used"] == [2.0]
