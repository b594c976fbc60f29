"""grm.adapters.verl_loop inside verl's reward loop: verl's ``RewardLoopWorker`` with the
reward model enabled hands grm's function its router address and the judge's tokenizer; the
router is verl's own (``reward_loop/router/naive_router.py``) in front of a ``vllm serve`` of
the embedded model on CPU, standing in for the GenRM replicas verl would start.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("verl") is None:
    pytest.skip(
        "verl is not installed: pip install --no-deps 'verl>=0.7' and the grm[verl-test] extra",
        allow_module_level=True,
    )

from test_remote_engine import vllm_server  # noqa: F401  (the module's vllm serve fixture)
from test_verl_managers import loop, rollouts, verl_config  # noqa: F401

from grm.adapters.verl import JudgementFailed
from grm.adapters.verl_loop import compute_score

PKG = "pkg://grm.adapters.verl_loop"


def test_without_a_reward_model_the_error_names_the_config() -> None:
    import asyncio

    with pytest.raises(ValueError, match="reward_model.enable=True"):
        asyncio.run(compute_score("src", "4", "4", {"question": "2+2?"}))
    with pytest.raises(ValueError, match="failure_value"):
        asyncio.run(compute_score("src", "4", "4", None, "h:1", object(), on_failure="value"))
    with pytest.raises(ValueError, match="on_failure must be one of"):
        asyncio.run(compute_score("src", "4", "4", None, "h:1", object(), on_failure="zero"))


@pytest.fixture(scope="module")
def router(vllm_server: str) -> Iterator[str]:  # noqa: F811
    """verl's router process in front of the vLLM server; yields ``host:port`` as verl
    passes it (no scheme)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    code = (
        "import sys; from verl.experimental.reward_loop.router.naive_router import run_router; "
        "run_router('127.0.0.1', int(sys.argv[1]), [sys.argv[2]])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(port), vllm_server])
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "verl's router exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    yield address
    proc.terminate()
    proc.wait(timeout=20)


def worker(default_model_path: Path, tok_dir: Path, address: str, **kwargs: Any) -> Any:
    """verl's RewardLoopWorker configured with the README's lines (legacy keys)."""
    from verl.experimental.reward_loop import RewardLoopWorker

    cfg = verl_config(
        actor_rollout_ref__model__path=str(tok_dir),
        reward_model__enable=True,
        reward_model__model__path=str(default_model_path),
        reward_model__rollout__name="vllm",
        custom_reward_function__path=PKG,
        custom_reward_function__name="compute_score",
        custom_reward_function__reward_kwargs=kwargs,
    )
    return RewardLoopWorker(cfg, address)


@pytest.mark.slow
@pytest.mark.vllm
def test_reward_loop_worker_judges_through_verls_router(
    router: str,
    default_model_path: Path,
    default_tokenizer: Any,
    tmp_path: Path,
    loop: Any,  # noqa: F811
) -> None:
    default_tokenizer.save_pretrained(tmp_path)
    data = rollouts(default_tokenizer)
    w = worker(default_model_path, tmp_path, router, k=2, judge_options={"max_tokens": 24})
    outs = w.loop.run_until_complete(w.compute_score_batch(data))
    extras = [o["reward_extra_info"] for o in outs]
    assert [e["grm_k_used"] for e in extras] == [2.0, 2.0, 0.0]  # the empty rollout: no call
    assert all(0.0 <= o["reward_score"] <= 1.0 for o in outs)
    assert [e["grm_failed"] for e in extras] == [0.0, 0.0, 0.0]
    assert len({tuple(sorted(e)) for e in extras}) == 1  # one column per key in verl

    # Adaptive k through the router: waves of 2 up to 4 chains.
    w = worker(
        default_model_path, tmp_path, router, k="auto",
        judge_options={"max_tokens": 16, "max_k": 4, "wave_size": 2},
    )  # fmt: skip
    outs = w.loop.run_until_complete(w.compute_score_batch(data[:1]))
    assert outs[0]["reward_extra_info"]["grm_k_used"] in (2.0, 4.0)

    # A judgement that failed (every chain abstained: one token, no forcing) raises through
    # verl's worker by default, and scores the stated value, flagged, when asked.
    failing = {"max_tokens": 1, "on_unparsed": "abstain"}
    w = worker(default_model_path, tmp_path, router, k=2, judge_options=failing)
    with pytest.raises(JudgementFailed, match="abstained"):
        w.loop.run_until_complete(w.compute_score_batch(data[:1]))
    w = worker(
        default_model_path, tmp_path, router, k=2, judge_options=failing,
        on_failure="value", failure_value=0.0,
    )  # fmt: skip
    (out,) = w.loop.run_until_complete(w.compute_score_batch(data[:1]))
    assert out["reward_score"] == 0.0 and out["reward_extra_info"]["grm_failed"] == 1.0
