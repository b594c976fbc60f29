"""Bad values never answer 5xx and never cost the connection.

A real server (``tests/serve_fake.py``: uvicorn on 127.0.0.1, the scripted engine) and ONE
persistent httpx client, as trainers pool connections. Each bad body is sent as raw JSON
(lone UTF-16 surrogates escaped as ``\\ud800``, ``NaN`` and ``Infinity`` as Python's json
writes them), then a good request on the same connection: the bad one gets a 4xx, the good
one a 200, and both travel over the same TCP connection (the client's local port does not
change). Before this, a surrogate in a field that the 422 echoes, or ``k`` = NaN, answered
500 and the server dropped the connection without ``Connection: close``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from served import fake_server

GOOD = {
    "/judge": {"prompt": "What is 2 + 2?", "responses": ["It is 4.", "5"], "k": 1},
    "/judge_batch": {"requests": [{"prompt": "2 + 2?", "responses": ["4", "5"]}], "k": 1},
    "/get_reward": {"query": ["2 + 2? It is 4."], "prompts": ["2 + 2?"], "labels": ["4"]},
}
#: Each route's fields (nested ones for /judge_batch's items).
FIELDS = {
    "/judge": ["mode", "prompt", "responses", "reference", "k", "method", "chains"],
    "/judge_batch": ["mode", "requests", "k"],
    "/get_reward": ["query", "prompts", "labels", "k"],
}
ITEM_FIELDS = ["prompt", "responses", "reference"]
SURROGATE = "\ud800"

texts = st.one_of(
    st.text(max_size=12),
    st.text(max_size=6).map(lambda t: t + SURROGATE),  # a lone surrogate
    st.sampled_from(["", " ", "auto", "compare", "rank", "round_robin", "\udfff", "é"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=6,
)


@st.composite
def bad_bodies(draw: st.DrawFn, route: str) -> bytes:
    """A route's good body with some fields replaced, dropped, or joined by extra keys."""
    body: dict[str, Any] = json.loads(json.dumps(GOOD[route]))
    for name in draw(st.lists(st.sampled_from(FIELDS[route]), max_size=3, unique=True)):
        if draw(st.booleans()):
            body[name] = draw(values)
        else:
            body.pop(name, None)
    if route == "/judge_batch" and draw(st.booleans()):
        item = {"prompt": "q", "responses": ["a", "b"]}
        item[draw(st.sampled_from(ITEM_FIELDS))] = draw(values)
        body["requests"] = [item]
    if draw(st.booleans()):
        body[draw(texts)] = draw(values)  # an extra key, maybe a surrogate
    return json.dumps(body).encode()  # ASCII: surrogates escaped, NaN/Infinity as JSON can't


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with (
        fake_server("--timeout", "30") as url,
        httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=1)) as http,
    ):
        yield http


def local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


def exchange(client: httpx.Client, route: str, raw: bytes) -> None:
    headers = {"content-type": "application/json"}
    bad = client.post(route, content=raw, headers=headers)
    assert bad.status_code < 500, (route, raw, bad.status_code, bad.text)
    assert bad.headers.get("connection") != "close", (route, raw)
    bad.json()  # the answer itself is valid JSON
    good = client.post(route, json=GOOD[route])
    assert good.status_code == 200, (route, raw, good.text)
    assert local_port(good) == local_port(bad), "the bad request cost the connection"


SURROGATE_CASES = [
    ("/judge", {**GOOD["/judge"], "mode": SURROGATE}),
    ("/judge", {**GOOD["/judge"], "k": SURROGATE}),
    ("/judge", {**GOOD["/judge"], "x" + SURROGATE: 1}),
    ("/judge", {**GOOD["/judge"], "prompt": SURROGATE}),
    ("/judge_batch", {**GOOD["/judge_batch"], "mode": SURROGATE}),
    ("/judge_batch", {**GOOD["/judge_batch"], "k": SURROGATE}),
    ("/judge_batch", {**GOOD["/judge_batch"], SURROGATE: 1}),
    ("/get_reward", {**GOOD["/get_reward"], "k": SURROGATE}),
    ("/get_reward", {**GOOD["/get_reward"], SURROGATE: 1}),
    ("/get_reward", {**GOOD["/get_reward"], "labels": [{"a": SURROGATE}]}),
]


@pytest.mark.parametrize(("route", "body"), SURROGATE_CASES)
def test_a_lone_surrogate_is_a_422_naming_where_it_is(
    client: httpx.Client, route: str, body: dict[str, Any]
) -> None:
    raw = json.dumps(body).encode()
    r = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert "surrogate" in r.text or "\\ud800" in r.text
    exchange(client, route, raw)


@pytest.mark.parametrize("route", list(GOOD))
@pytest.mark.parametrize("k", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_k_nan_or_infinity_is_a_422(client: httpx.Client, route: str, k: str) -> None:
    raw = json.dumps(GOOD[route])[:-1].encode() + f', "k": {k}}}'.encode()
    r = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "k" in r.text, r.text
    exchange(client, route, raw)


@pytest.mark.parametrize("route", list(GOOD))
def test_fuzzed_bodies_never_get_a_5xx_or_cost_the_connection(
    client: httpx.Client, route: str
) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(raw=bad_bodies(route))
    def prop(raw: bytes) -> None:
        exchange(client, route, raw)

    prop()
