"""The HTTP face on a scripted engine: config rules, authentication before the body, host
and body limits, field-naming validation, cost-aware admission, bounded metrics, and the
exact request shapes OpenRLHF's and verl's clients send. A real server process on
127.0.0.1; the engine is scripted (these are the server's rules, not the model's)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_engine import FakeEngine
from fault_engine import FaultEngine, verdict_script
from served import fake_server

from grm import JudgeRequest, RewardModel
from grm.ranking import RankItem
from grm.serve import ServerConfig
from grm.serve.admission import Admission, request_chains
from grm.serve.gate import bearer_ok, host_name
from grm.serve.openrlhf import label_text, response_of, strip_special

TOKEN = "a-test-token-of-32-characters-xx"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAIR = {"prompt": "What is 2 + 2?", "responses": ["4", "5"], "k": 2}


@pytest.fixture(scope="module")
def secured(default_model_path: Path) -> Iterator[str]:
    """Token, a 20 kB body limit, 100 chains a request, and the embedded model's tokenizer
    (whose special tokens the OpenRLHF route strips)."""
    with fake_server("--token", TOKEN, "--max-body-bytes", "20000", "--max-request-chains",
                     "100", "--tokenizer", str(default_model_path)) as url:  # fmt: skip
        yield url


@pytest.fixture(scope="module")
def open_loopback(loopback_server: tuple[str, Path]) -> str:
    return loopback_server[0]


# --- config --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "0.0.0.0"}, "without a token"),
        ({"token": "short"}, "under the minimum of 16"),
        ({"token": "x" * 20 + "é"}, "printable ASCII"),
        ({"allow_from": ("not-a-net",)}, "is not a network"),
        ({"max_request_chains": 10, "max_chains": 5}, "could never be admitted"),
        ({"k": 0}, "k must be in 1..max_request_k"),
    ],
)
def test_server_config_refuses_unsafe_or_impossible_settings(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ServerConfig(**kwargs)


def test_the_old_name_of_the_request_k_cap_still_works_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="max_request_k"):
        cfg = ServerConfig(max_k=8)
    assert cfg.max_request_k == 8 and cfg.max_k is None
    with pytest.raises(ValueError, match="disagree"):
        ServerConfig(max_k=8, max_request_k=9)


def test_the_cli_maps_the_deprecated_max_k_flag_to_the_request_cap(capsys: Any) -> None:
    import argparse

    from grm.cli.serve import add_parser, request_k_cap

    sub = argparse.ArgumentParser().add_subparsers()
    add_parser(sub)
    parse = sub.choices["serve"].parse_args
    assert request_k_cap(parse([])) == 64
    assert request_k_cap(parse(["--max-request-k", "32"])) == 32
    args = parse(["--max-k", "8", "--auto-max-k", "12"])
    assert request_k_cap(args) == 8 and args.auto_max_k == 12
    assert "--max-k is deprecated" in capsys.readouterr().err


def test_an_allow_list_or_a_token_opens_other_interfaces() -> None:
    assert ServerConfig(host="0.0.0.0", token=TOKEN).token == TOKEN
    assert ServerConfig(host="10.0.0.5", allow_from=("10.0.0.0/8",)).token is None
    assert ServerConfig(token="").token is None


def test_bearer_scheme_and_host_parsing() -> None:
    assert bearer_ok(b"BEARER " + TOKEN.encode(), TOKEN)
    assert not bearer_ok(b"Bearer \xc3\xa9" + TOKEN.encode(), TOKEN)
    assert not bearer_ok(b"Token " + TOKEN.encode(), TOKEN)
    assert host_name(b"LOCALHOST:8000") == "localhost"
    assert host_name(None) == ""


def test_chains_are_the_admission_currency() -> None:
    assert request_chains("rank", 10, 4, "round_robin") == 45 * 4
    assert request_chains("rank", 10, 4, "pointwise") == 4
    gate = Admission(10)
    assert gate.try_admit(6) and not gate.try_admit(6)
    gate.release(6)
    assert gate.try_admit(10)


# --- OpenRLHF query parsing ----------------------------------------------------------------


def test_openrlhf_query_parsing_handles_templates_truncation_and_labels() -> None:
    special = ["<|im_start|>", "<|im_end|>"]
    prompt = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
    query = prompt + "It is 4.<|im_end|>"
    assert strip_special(response_of(query, prompt), special) == "It is 4."
    cut = query[30:]  # the prompt's head was cut to fit max_len
    assert strip_special(response_of(cut, prompt), special) == "It is 4."
    assert response_of("unrelated text", prompt) == "unrelated text"
    assert [label_text(x) for x in (4, 4.5, True, {"a": 1}, "", None)] == [
        "4", "4.5", "true", '{"a": 1}', None, None,
    ]  # fmt: skip


# --- cancellation --------------------------------------------------------------------------


def test_a_request_past_its_deadline_aborts_its_engine_work() -> None:
    engine = FaultEngine(p_error=0.0, p_hang=1.0, p_slow=0.0)
    req = JudgeRequest("q", ("a", "b"))

    async def go() -> None:
        rm = RewardModel(engine)
        # A comparison and a ranking are both awaited on the loop, so both are cancelled.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(rm.acompare_batch([req], 2), 0.3)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(rm.arank_batch([RankItem("q", ("a", "b"))], "knockout", 2), 0.3)

    asyncio.run(go())
    assert engine.aborted == 2  # each hanging engine call was cancelled, not left running


def test_concurrent_async_requests_each_run_their_own_waves() -> None:
    """Adaptive k per request: requests judged concurrently stop at their own wave."""
    calls: list[int] = []

    class Counting(FakeEngine):
        async def agenerate(self, requests: Any, sampling: Any) -> Any:
            calls.append(len(requests))
            await asyncio.sleep(0.01)
            return self.generate(requests, sampling)

        async def achoice_logprobs(self, prompts: Any, choices: Any) -> Any:
            return self.choice_logprobs(prompts, choices)

        async def asequence_logprobs(self, prompts: Any, candidates: Any) -> Any:
            return self.sequence_logprobs(prompts, candidates)

    rm = RewardModel(Counting(verdict_script))
    clean = JudgeRequest("q", ("It is 4.", "4"))  # unanimous: stops after the first wave
    split = JudgeRequest("q", ("4", "5"))  # position-bound verdicts: never settles

    async def go() -> list[Any]:
        return await asyncio.gather(
            rm.acompare_batch([clean], "auto", max_k=8, wave_size=2),
            rm.acompare_batch([split], "auto", max_k=8, wave_size=2),
        )

    (a,), (b,) = asyncio.run(go())
    assert a.k_used < b.k_used == 8
    assert len(calls) == a.k_used // 2 + b.k_used // 2  # one engine call per request-wave


def test_async_ranking_runs_the_same_steps_as_the_sync_one() -> None:
    """rank_batch and arank_batch drive one step generator per method: same rankings."""
    rm = RewardModel(FakeEngine(verdict_script))
    items = [RankItem("What is 2 + 2?", ("4", "5", "It is 4.", "four")), RankItem("q", ("a",))]
    for method in ("knockout", "round_robin", "pointwise"):
        sync = rm.rank_batch(items, method, 2)
        awaited = asyncio.run(rm.arank_batch(items, method, 2))
        assert [r.summary() | {"seconds": 0} for r in sync] == [
            r.summary() | {"seconds": 0} for r in awaited
        ], method


# --- HTTP: authentication, host, body ------------------------------------------------------


def test_authentication_comes_first_and_is_strict(secured: str) -> None:
    r = httpx.post(f"{secured}/judge", content=b"{not json", headers={"content-type": "x"})
    assert r.status_code == 401  # refused before the broken body is read
    for scheme in ("Bearer", "bearer", "BEARER"):
        h = {"Authorization": f"{scheme} {TOKEN}"}
        assert httpx.post(f"{secured}/judge", json=PAIR, headers=h).status_code == 200
    bad = {"Authorization": b"Bearer \xc3\xa9\xff"}
    assert httpx.post(f"{secured}/judge", json=PAIR, headers=bad).status_code == 401
    assert (
        httpx.post(f"{secured}/judge", json=PAIR, headers={"Authorization": "Bearer x"}).status_code
        == 401
    )  # noqa: E501
    for path in ("/docs", "/openapi.json", "/metrics"):
        assert httpx.get(f"{secured}{path}").status_code == 401
        assert httpx.get(f"{secured}{path}", headers=AUTH).status_code == 200
    assert httpx.get(f"{secured}/health").json() == {"status": "ok"}
    assert "engine" in httpx.get(f"{secured}/health", headers=AUTH).json()


def test_loopback_without_token_refuses_foreign_host_headers(open_loopback: str) -> None:
    assert httpx.post(f"{open_loopback}/judge", json=PAIR).status_code == 200
    r = httpx.post(f"{open_loopback}/judge", json=PAIR, headers={"Host": "evil.example"})
    assert r.status_code == 403 and "DNS rebinding" in r.json()["detail"]
    r = httpx.get(f"{open_loopback}/health", headers={"Host": "localhost:1"})
    assert r.status_code == 200


def test_bodies_over_the_limit_get_413_declared_or_chunked(secured: str) -> None:
    big = {**PAIR, "responses": ["x" * 30000, "y"]}
    r = httpx.post(f"{secured}/judge", json=big, headers=AUTH)
    assert r.status_code == 413 and "20000-byte limit" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:
        yield b'{"prompt": "q", "responses": ["'
        for _ in range(40):
            yield b"x" * 1000
        yield b'", "b"]}'

    r = httpx.post(f"{secured}/judge", content=chunks(), headers=AUTH)
    assert r.status_code == 413
    assert httpx.post(f"{secured}/judge", json=PAIR, headers=AUTH).status_code == 200


# --- HTTP: validation, admission, metrics --------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"responses": ["a", "b"]}, "prompt"),
        ({"prompt": "q", "responses": ["a", "b"], "k": 0}, "k must be"),
        ({"prompt": "q", "responses": ["a", " "]}, "responses[1]"),
        ({"prompt": "q", "responses": ["a", "b", "c"]}, "exactly 2 responses"),
        ({"prompt": "q", "responses": ["a", "b"], "mode": "vote"}, "mode"),
        ({"prompt": "q", "responses": ["a", "b"], "colour": 1}, "colour"),
    ],
)
def test_bad_fields_get_422_naming_them(secured: str, body: dict[str, Any], field: str) -> None:
    r = httpx.post(f"{secured}/judge", json=body, headers=AUTH)
    assert r.status_code == 422 and field in r.text


def test_costly_requests_are_refused_by_their_chains(secured: str) -> None:
    rank = {"mode": "rank", "method": "round_robin", "prompt": "q", "responses": list("abcdefgh")}
    r = httpx.post(f"{secured}/judge", json={**rank, "k": 4}, headers=AUTH)  # 28 x 4 = 112
    assert r.status_code == 413 and "costs 112 chains" in r.json()["detail"]
    # k="auto" is charged the judge's max_k (16, where its adaptive loop stops), not the
    # server's cap on a fixed k (64): 7 games x 16 = 112, where 7 x 64 = 448 was charged.
    r = httpx.post(f"{secured}/judge", json={**rank, "method": "knockout", "k": "auto"},
                   headers=AUTH)  # fmt: skip
    assert r.status_code == 413 and "costs 112 chains" in r.json()["detail"]
    knockout = {**rank, "method": "knockout", "k": 4}  # 7 games x 4 = 28 chains
    r = httpx.post(f"{secured}/judge", json=knockout, headers=AUTH, timeout=60)
    assert r.status_code == 200 and r.json()["comparisons"] == 7


def test_metrics_label_only_known_routes(secured: str) -> None:
    for i in range(5):
        httpx.get(f"{secured}/scan-{i}", headers=AUTH)
    text = httpx.get(f"{secured}/metrics", headers=AUTH).text
    assert 'grm_requests_total{code="404",route="other"} 5.0' in text
    assert "scan-" not in text
    assert 'grm_engine_calls_total{kind="generate"}' in text


# --- The trainers' exact request shapes ----------------------------------------------------


def test_openrlhf_exact_request_shape(secured: str, default_model_path: Path) -> None:
    """What ``openrlhf/utils/agent.py`` posts: one sample, the query decoded with special
    tokens kept (prompt + response + EOS), the raw prompt, a numeric label."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(default_model_path)
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What is 6 x 7?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    action = tok("The answer is 42.", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    # What the judge must have seen: the clean response against the label as text.
    clean = RewardModel(FakeEngine(verdict_script)).compare("q", "The answer is 42.", "42", k=4)
    assert clean.votes == (4, 0)
    for cut in (0, 5):  # as sent, and with the prompt left-truncated to fit max_len
        query = tok.decode(ids[cut:] + action, skip_special_tokens=False)
        assert tok.eos_token in query
        payload = {"query": [query], "prompts": [prompt], "labels": [42]}
        r = httpx.post(f"{secured}/get_reward", json=payload, headers=AUTH, timeout=30)
        assert r.status_code == 200, r.text
        out = r.json()
        assert set(out) >= {"rewards", "scores", "extra_logs"}
        assert out["rewards"] == out["scores"] and out["extra_logs"]["grm_k_used"] == [4.0]
        assert out["rewards"][0] == pytest.approx(clean.probability)
    labels = [None, "42", 42.0, {"answer": 42}, [42], True]
    n = len(labels)
    payload = {"query": [prompt + "42"] * n, "prompts": [prompt] * n, "labels": labels}
    out = httpx.post(f"{secured}/get_reward", json=payload, headers=AUTH, timeout=30).json()
    assert len(out["rewards"]) == n and out["extra_logs"]["grm_k_used"] == [4.0] * n


def test_verl_batch_manager_call_shape(secured: str) -> None:
    """verl's ``batch`` reward manager: one call per batch with numpy object arrays, each
    extra_info a dict (rollout_reward_scores added by the manager), ground truths as given."""
    import numpy as np

    from grm.adapters.verl import compute_score_batch

    n = 6
    data_sources = np.array(["gsm8k"] * n, dtype=object)
    solutions = [f"The answer is {i}." if i != 3 else "" for i in range(n)]
    truths = [str(i) for i in range(n)]
    extras = np.array(
        [{"question": f"What is {i} + 0?", "rollout_reward_scores": {}} for i in range(n - 1)]
        + [{"index": 5, "rollout_reward_scores": {}}],
        dtype=object,
    )
    out = compute_score_batch(
        data_sources=data_sources, solution_strs=solutions, ground_truths=truths,
        extra_infos=extras, url=secured, token=TOKEN, k=2,
    )  # fmt: skip
    assert len(out) == n and all(isinstance(o, dict) and "score" in o for o in out)
    assert out[3]["score"] == 0.0 and out[3]["grm_k_used"] == 0.0  # empty: not judged
    # The clean solution beats the bare number in every chain (the scripted judge's rule).
    clean = RewardModel(FakeEngine(verdict_script)).compare("q", "The answer is 1.", "1", k=2)
    assert [o["score"] for i, o in enumerate(out) if i != 3] == [clean.probability] * (n - 1)
    assert {tuple(sorted(o)) for o in out} == {
        ("grm_abstained", "grm_failed", "grm_k_used", "score")
    }
    metrics = httpx.get(f"{secured}/metrics", headers=AUTH).text
    assert 'grm_requests_total{code="200",route="/judge_batch"}' in metrics
    json.dumps(out)  # verl logs every key: plain floats only


def test_verl_reward_loop_and_prime_shapes(secured: str) -> None:
    """The reward loop awaits an ``async def`` scorer with keywords; the prime manager calls
    positionally and needs a float."""
    from grm.adapters.verl import compute_score_async, compute_score_float

    async def many() -> list[dict[str, float]]:
        return await asyncio.gather(
            *(
                compute_score_async(
                    data_source="gsm8k",
                    solution_str=f"It is {i}.",
                    ground_truth=str(i),
                    extra_info={"prompt": [{"role": "user", "content": f"{i} + 0?"}]},
                    url=secured,
                    token=TOKEN,
                    k=2,
                )  # fmt: skip
                for i in range(4)
            )
        )

    assert [o["grm_k_used"] for o in asyncio.run(many())] == [2.0] * 4
    got = compute_score_float("gsm8k", "It is 4.", "4", None, url=secured, token=TOKEN, k=2)
    assert isinstance(got, float) and 0.0 <= got <= 1.0
    with pytest.raises(RuntimeError, match="401"):  # a request's own fault is not retried
        compute_score_float("gsm8k", "It is 4.", "4", None, url=secured, token="x" * 16)


def test_a_served_rank_requests_forced_scores_are_counted_and_cancelled() -> None:
    """Pointwise ranking forces missing scores with sequence_logprobs: in a served rank
    request that read is awaited on the loop like every other engine call (counted by the
    server's counting engine), and a deadline cancels it (504, the engine call aborted)."""
    from grm.serve.metrics import Metrics
    from grm.serve.protocol import JudgeBody
    from grm.serve.service import JudgeService, ServiceError

    class ForcedHangs(FaultEngine):
        """Chains without a score; the forced read of their scores hangs."""

        def __init__(self) -> None:
            super().__init__(p_error=0.0, p_hang=0.0, p_slow=0.0)
            self.script = lambda prompt, i: "No score given."
            self.forced = 0

        async def asequence_logprobs(self, prompts: Any, candidates: Any) -> Any:
            self.forced += 1
            await self._sleep(3600)

    engine = ForcedHangs()
    service = JudgeService(RewardModel(engine), ServerConfig(request_timeout_s=0.5), Metrics())
    body = JudgeBody(mode="rank", method="pointwise", prompt="q", responses=["a", "b"], k=2)

    async def go() -> None:
        service.start()
        with pytest.raises(ServiceError) as err:
            await service.judge_one(body)
        assert err.value.status == 504 and err.value.reason == "timeout"

    asyncio.run(go())
    assert engine.forced == 1 and engine.aborted == 1
    metrics = service.metrics.render().decode()
    assert 'grm_engine_calls_total{kind="generate"} 1.0' in metrics
    assert 'grm_engine_calls_total{kind="choice"} 1.0' in metrics
