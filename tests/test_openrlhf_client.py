"""Empty batches are valid, checked with OpenRLHF's own reward client against two servers.

OpenRLHF shards each sample over every URL of ``--reward.remote_url``
(``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor._fetch_rewards_via_http``). At
OpenRLHF commit 04655bc3f38cd33109101fb948673aef3db37a9c the shard loop runs over every
endpoint, so with one sample and two URLs the second gets ``{"query": [], "prompts": [],
"labels": []}``; its ``_post_request`` calls ``raise_for_status()``, retries five times a
second apart and then raises, and ``asyncio.gather`` fails the sample. The released 0.11.2
(installed by ``scripts/setup.sh`` with ``--no-deps``) skips empty shards and rotates
endpoints instead. The first test runs the released client itself; the second sends the
commit's exact shards with the same client library (aiohttp) and the same retry rule, because
that version's function is not installable: it reproduces the cited code, it is not imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from served import fake_server

PROMPT = "What is 2 + 2?"
QUERY = PROMPT + " It is 4."


@pytest.fixture(scope="module")
def two_servers() -> Iterator[list[str]]:
    with fake_server() as a, fake_server() as b:
        yield [f"{a}/get_reward", f"{b}/get_reward"]


@pytest.mark.parametrize("path", ["/get_reward", "/judge_batch"])
def test_every_batch_route_answers_empty_input_with_empty_lists(
    two_servers: list[str], path: str
) -> None:
    base = two_servers[0].removesuffix("/get_reward")
    body: dict[str, Any] = (
        {"query": [], "prompts": [], "labels": []} if path == "/get_reward" else {"requests": []}
    )
    r = httpx.post(f"{base}{path}", json=body, timeout=30)
    assert r.status_code == 200, r.text
    if path == "/get_reward":
        assert r.json() == {
            "rewards": [],
            "scores": [],
            "extra_logs": {"grm_abstention_rate": [], "grm_k_used": []},
        }
    else:
        assert r.json() == {"results": []}


def test_openrlhf_released_client_over_two_urls(two_servers: list[str]) -> None:
    agent = pytest.importorskip("openrlhf.utils.agent")
    executor = agent.SingleTurnAgentExecutor(remote_rm_url=two_servers)

    async def fetch(n: int) -> Any:
        return await executor._fetch_rewards_via_http([QUERY] * n, [PROMPT] * n, ["4"] * n)

    for n in (1, 2, 3):  # one sample, and batches split over both URLs
        shards = asyncio.run(fetch(n))
        assert sum(len(s["rewards"]) for s in shards) == n
        assert all(0.0 <= x <= 1.0 for s in shards for x in s["rewards"])


def test_openrlhf_commit_04655bc_shards_with_an_empty_one(two_servers: list[str]) -> None:
    """The shard loop and ``_post_request`` of that commit, step for step: aiohttp, a 180 s
    total timeout, ``raise_for_status()``, five tries a second apart, then RuntimeError."""
    aiohttp = pytest.importorskip("aiohttp")

    async def post(url: str, data: dict[str, Any], tries: int = 5) -> Any:
        timeout = aiohttp.ClientTimeout(total=180)
        for _ in range(tries):
            try:
                async with (
                    aiohttp.ClientSession(timeout=timeout) as session,
                    session.post(url, json=data) as response,
                ):
                    response.raise_for_status()
                    return await response.json()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(1)
        raise RuntimeError(f"Request error for {tries} times")

    async def fetch(queries: list[str], prompts: list[str], labels: list[Any]) -> Any:
        size = (len(queries) + len(two_servers) - 1) // len(two_servers)
        tasks = []
        for i, url in enumerate(two_servers):
            lo, hi = i * size, min((i + 1) * size, len(queries))
            payload = {"query": queries[lo:hi], "prompts": prompts[lo:hi], "labels": labels[lo:hi]}
            tasks.append(asyncio.create_task(post(url, payload)))
        return await asyncio.gather(*tasks)

    first, second = asyncio.run(fetch([QUERY], [PROMPT], [4]))
    assert len(first["rewards"]) == 1 and 0.0 <= first["rewards"][0] <= 1.0
    assert second == {
        "rewards": [],
        "scores": [],
        "extra_logs": {"grm_abstention_rate": [], "grm_k_used": []},
    }
