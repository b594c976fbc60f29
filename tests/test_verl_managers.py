"""grm's verl functions run through verl's own reward managers (installed with ``pip install
--no-deps verl`` plus the ``verl-test`` extra), against a scripted-engine ``grm serve``.

Reward loop on (verl's default since 0.7; the only path from 0.7.1 on): the managers of
``verl/experimental/reward_loop/reward_manager/`` and the ``RewardLoopWorker`` itself, the
config written in the legacy keys the README gives and migrated by verl's own
``migrate_legacy_reward_impl``. Reward loop off (verl 0.7.0's ``reward_model.use_reward_loop=
False``): the managers of ``verl/workers/reward_manager/`` (naive, batch, dapo, prime), built as
verl 0.7.0's ``load_reward_manager`` builds them. The function is loaded by verl's loader
(``get_custom_reward_fn``) from the path the README gives.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if importlib.util.find_spec("verl") is None:
    pytest.skip(
        "verl is not installed: pip install --no-deps 'verl>=0.7' and the grm[verl-test] extra",
        allow_module_level=True,
    )

import numpy as np
import torch
from omegaconf import OmegaConf
from verl import DataProto
from verl.experimental.reward_loop import migrate_legacy_reward_impl
from verl.trainer.ppo.reward import get_custom_reward_fn, load_reward_manager

import grm.adapters.verl as grm_verl

PKG = "pkg://grm.adapters.verl"
FILE = str(Path(grm_verl.__file__).resolve())
ROWS = [
    ("What is 2 + 3?", "The answer is 5.", "5"),
    ("What is 4 + 4?", "The answer is 8.", "8"),
    ("What is 1 + 6?", "", "7"),  # an empty rollout: 0 without a call
]


@pytest.fixture(scope="module")
def grm_url() -> Iterator[str]:
    from served import fake_server

    with fake_server() as url:
        yield url


@pytest.fixture()
def env(grm_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # verl's workers read the server from their environment (README); prime's worker
    # processes inherit it.
    monkeypatch.setenv("GRM_SERVER_URL", grm_url)
    monkeypatch.setenv("GRM_K", "2")
    return grm_url


def verl_config(**overrides: Any) -> Any:
    """verl's full PPO config with command-line style overrides in the legacy keys, migrated
    as ``verl.trainer.main_ppo`` does."""
    import verl

    base = Path(verl.__file__).parent / "trainer" / "config" / "_generated_ppo_trainer.yaml"
    cfg = OmegaConf.load(base)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key.replace("__", "."), value, force_add=True)
    return migrate_legacy_reward_impl(cfg)


def rollouts(tokenizer: Any, rows: list[tuple[str, str, str]] = ROWS) -> DataProto:
    """A batch as verl's rollout leaves it: left-padded prompts, right-padded responses."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    p_ids = [tokenizer.encode(q) for q, _, _ in rows]
    r_ids = [tokenizer.encode(r) + [tokenizer.eos_token_id] if r else [] for _, r, _ in rows]
    plen, rlen = max(map(len, p_ids)), max(max(map(len, r_ids)), 1)
    prompts = torch.tensor([[pad] * (plen - len(p)) + p for p in p_ids])
    responses = torch.tensor([r + [pad] * (rlen - len(r)) for r in r_ids])
    mask = torch.tensor(
        [[0] * (plen - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (rlen - len(r))
         for p, r in zip(p_ids, r_ids, strict=True)]
    )  # fmt: skip
    obj = lambda xs: np.array(xs, dtype=object)  # noqa: E731
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], 1),
            "attention_mask": mask,
        },
        non_tensors={
            "data_source": obj(["arith"] * len(rows)),
            "reward_model": obj([{"ground_truth": g, "style": "model"} for _, _, g in rows]),
            "extra_info": obj([{"question": q, "index": i} for i, (q, _, _) in enumerate(rows)]),
            "raw_prompt": obj([[{"role": "user", "content": q}] for q, _, _ in rows]),
        },
    )


def expected_scores(url: str) -> list[float]:
    """What grm's own client gets for the same rows from the same server."""
    return [
        grm_verl.compute_score("arith", r, g, {"question": q}, url=url, k=2)["score"]
        for q, r, g in ROWS
    ]


def legacy_manager(name: str, fn_name: str, path: str, tokenizer: Any) -> Any:
    """A manager of verl's pre-reward-loop path, built as verl 0.7.0's load_reward_manager
    builds it (``use_reward_loop=False``)."""
    from verl.workers.reward_manager import get_reward_manager_cls

    cfg = verl_config(custom_reward_function__path=path, custom_reward_function__name=fn_name)
    return get_reward_manager_cls(name)(
        tokenizer=tokenizer,
        num_examine=0,
        compute_score=get_custom_reward_fn(cfg),
        reward_fn_key="data_source",
    )


def last_token_scores(reward_tensor: torch.Tensor, data: DataProto) -> list[float]:
    plen = data.batch["prompts"].shape[-1]
    ends = data.batch["attention_mask"][:, plen:].sum(-1) - 1
    return [float(reward_tensor[i, max(int(e), 0)]) for i, e in enumerate(ends)]


@pytest.mark.parametrize(
    ("manager", "fn_name", "path"),
    [
        ("naive", "compute_score", PKG),
        ("naive", "compute_score", FILE),
        ("dapo", "compute_score", PKG),
        ("batch", "compute_score_batch", PKG),
        ("batch", "compute_score_batch", FILE),
        ("prime", "compute_score_float", PKG),
    ],
)
def test_legacy_managers_score_grm_rewards(
    manager: str, fn_name: str, path: str, env: str, default_tokenizer: Any
) -> None:
    data = rollouts(default_tokenizer)
    out = legacy_manager(manager, fn_name, path, default_tokenizer)(data, return_dict=True)
    scores = last_token_scores(out["reward_tensor"], data)
    assert scores == pytest.approx(expected_scores(env))
    assert scores[0] > 0.5 and scores[2] == 0.0  # the scripted judge prefers the worked answer
    extra = out.get("reward_extra_info", {})
    if manager != "prime":  # prime keeps floats only
        assert extra["grm_k_used"] == [2.0, 2.0, 0.0]


def test_prime_with_a_file_path_scores_zero_so_the_readme_says_pkg(
    env: str, default_tokenizer: Any
) -> None:
    """verl's prime manager sends the function to worker processes by pickle; a function
    loaded from a file path is not importable there, every call fails, and prime writes 0.0
    for each (its ``parallel_compute_score_async``). The pkg:// path above scores."""
    data = rollouts(default_tokenizer)
    rm = legacy_manager("prime", "compute_score_float", FILE, default_tokenizer)
    assert last_token_scores(rm(data), data) == [0.0, 0.0, 0.0]


@pytest.fixture()
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A fresh event loop set as the thread's, as a Ray reward worker has: verl's managers
    take ``asyncio.get_event_loop()`` when built and run their sync scorers on it."""
    fresh = asyncio.new_event_loop()
    asyncio.set_event_loop(fresh)
    yield fresh
    fresh.close()
    asyncio.set_event_loop(None)


def reward_loop_scores(cfg: Any, tokenizer: Any, data: DataProto) -> list[dict[str, Any]]:
    manager = load_reward_manager(cfg, tokenizer)
    singles = [manager.run_single(data[i : i + 1]) for i in range(len(data))]

    async def run() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*singles))

    return manager.loop.run_until_complete(run())


@pytest.mark.parametrize(
    ("manager", "fn_name"),
    [
        ("naive", "compute_score"),
        ("naive", "compute_score_async"),
        ("dapo", "compute_score"),
        ("dapo", "compute_score_async"),
    ],
)
def test_reward_loop_managers_score_grm_rewards(
    manager: str, fn_name: str, env: str, default_tokenizer: Any, loop: Any
) -> None:
    cfg = verl_config(
        reward_model__reward_manager=manager,
        custom_reward_function__path=PKG,
        custom_reward_function__name=fn_name,
    )
    outs = reward_loop_scores(cfg, default_tokenizer, rollouts(default_tokenizer))
    assert [o["reward_score"] for o in outs] == pytest.approx(expected_scores(env))
    assert [o["reward_extra_info"]["grm_k_used"] for o in outs] == [2.0, 2.0, 0.0]
    # verl builds one column per key of the first sample: every sample has the same keys
    assert len({tuple(sorted(o["reward_extra_info"])) for o in outs}) == 1


def test_reward_loop_has_no_batch_manager_so_the_readme_says_naive(loop: Any) -> None:
    """The README's old recipe: with the reward loop, reward_manager=batch fails at start."""
    cfg = verl_config(
        reward_model__reward_manager="batch",
        custom_reward_function__path=PKG,
        custom_reward_function__name="compute_score_batch",
    )
    with pytest.raises(ValueError, match="Unknown reward manager: batch"):
        load_reward_manager(cfg, None)


def test_reward_loop_worker_runs_grm(
    env: str, default_tokenizer: Any, tmp_path: Path, loop: Any
) -> None:
    """verl's RewardLoopWorker (what each Ray reward worker runs) with grm's async function,
    the reward model off: grm's own server judges."""
    from verl.experimental.reward_loop import RewardLoopWorker

    default_tokenizer.save_pretrained(tmp_path)
    cfg = verl_config(
        actor_rollout_ref__model__path=str(tmp_path),
        custom_reward_function__path=PKG,
        custom_reward_function__name="compute_score_async",
    )
    worker = RewardLoopWorker(cfg, None)
    data = rollouts(default_tokenizer)
    outs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    assert [o["reward_score"] for o in outs] == pytest.approx(expected_scores(env))
