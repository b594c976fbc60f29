"""TRL reward adapter: TRL's calling contract on a scripted judge, and a real GRPOTrainer run
with the default model as the policy and grm (default model) as its reward; verl's
compute_score is tested against a live server in test_server.py."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from fake_engine import FakeEngine

from grm import JudgeConfig, RewardModel
from grm.adapters.trl import (
    AsyncGRMReward,
    GRMReward,
    TRLRewardConfig,
    make_trl_reward,
    split_groups,
)


def _slot(prompt: str, slot: str) -> str:
    m = re.search(rf"<response_{slot}>\n(.*?)\n</response_{slot}>", prompt, re.S)
    assert m, prompt
    return m.group(1)


def longer_wins(prompt: str, i: int) -> str:
    """Prefers the longer response; pointwise score = length capped at 10."""
    slots = re.findall(r"<response_(\d+)>\n(.*?)\n</response_\d+>", prompt, re.S)
    if slots:
        return "Final Scores: [[" + ", ".join(str(min(len(t), 10)) for _, t in slots) + "]]"
    return f"Final verdict: [[{'A' if len(_slot(prompt, 'A')) > len(_slot(prompt, 'B')) else 'B'}]]"


class Log:
    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}

    def __call__(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)


def reward(mode: str, **kw: Any) -> GRMReward:
    return make_trl_reward(RewardModel(FakeEngine(longer_wins)), mode=mode, k=2, **kw)  # type: ignore[arg-type]


def test_group_mode_ranks_each_prompts_completions_together() -> None:
    fn = reward("group", method="round_robin", group_reward="win_rate")
    prompts = ["p1"] * 3 + ["p2"] * 3
    completions = ["a", "aaa", "aa", "bbbb", "b", "bb"]
    log = Log()
    out = fn(prompts=prompts, completions=completions, completion_ids=[[1]] * 6, log_metric=log)
    assert out == [0.0, 1.0, 0.5, 1.0, 0.0, 0.5]
    assert fn.__name__ == "grm_group"
    assert log.metrics["grm/abstention_rate"] == [0.0]
    assert log.metrics["grm/k_used"] == [2.0]
    assert log.metrics["grm/chains_per_completion"] == [2.0]  # 3 pairs x 2 chains / 3


def test_conversational_completions_and_prompts() -> None:
    fn = reward("group", method="knockout", group_reward="rank", num_generations=2)
    prompts = [[{"role": "user", "content": "say hi"}]] * 2
    completions = [
        [{"role": "assistant", "content": "hi"}],
        [{"role": "assistant", "content": "hello there"}],
    ]
    assert fn(prompts=prompts, completions=completions, completion_ids=None) == [0.0, 1.0]


def test_pointwise_mode_maps_scores_to_unit_interval() -> None:
    out = reward("pointwise")(prompts=["q", "q"], completions=["x", "xxxxxxxxxx"])
    assert out == [0.0, 1.0]


def test_reference_mode_reads_the_dataset_column() -> None:
    fn = reward("reference", reference_column="answer")
    out = fn(prompts=["q", "q"], completions=["long answer", "a"], answer=["ref", "ref"])
    assert out[0] > 0.5 > out[1]  # type: ignore[operator]
    with pytest.raises(ValueError, match="column 'answer'"):
        fn(prompts=["q"], completions=["x"], solution=["ref"])


def test_empty_completions_are_not_judged() -> None:
    engine = FakeEngine(longer_wins)
    fn = GRMReward(RewardModel(engine), TRLRewardConfig(mode="group", k=2, empty_reward=-1.0))
    out = fn(prompts=["p"] * 3, completions=["", "aa", "a"])
    assert out == [-1.0, 1.0, 0.0]
    assert all("<response_A>\n\n" not in p for p, _ in engine.calls)


def test_group_size_must_divide_the_batch() -> None:
    with pytest.raises(ValueError, match="num_generations=4"):
        split_groups(["a"] * 6, 4)


def test_async_variant_is_awaited_like_trl_does() -> None:
    fn = make_trl_reward(
        RewardModel(FakeEngine(longer_wins)), mode="pointwise", asynchronous=True, k=1
    )
    assert isinstance(fn, AsyncGRMReward)
    from trl.trainer.utils import is_async_callable

    assert is_async_callable(fn)
    assert asyncio.run(fn(prompts=["q"], completions=["xxxxxxxxxx"])) == [1.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "listwise"}, "mode must be one of"),
        ({"k": 0}, "k must be"),
        ({"method": "swiss"}, "ranking method 'swiss'"),
        ({"group_reward": "elo"}, "group reward 'elo'"),
        ({"num_generations": 0}, "num_generations must be"),
    ],
)
def test_config_validates(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TRLRewardConfig(**kwargs)


def test_unknown_keywords_become_judge_overrides() -> None:
    fn = reward("pointwise", max_tokens=7)
    assert fn.config.overrides == {"max_tokens": 7}


@pytest.mark.slow
def test_grpo_trainer_trains_with_grm_as_its_reward(
    tmp_path: Path, default_model_path: Path, tf_engine: Any
) -> None:
    """Two real GRPO steps: the default model as policy, grm on the default model as reward."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    judge = RewardModel(tf_engine, config=JudgeConfig(max_tokens=4))
    fn = make_trl_reward(judge, mode="group", method="knockout", k=1)
    calls: list[int] = []
    original = fn.compute

    def counted(prompts: Any, completions: Any, columns: Any) -> Any:
        calls.append(len(completions))
        return original(prompts, completions, columns)

    fn.compute = counted  # type: ignore[method-assign]
    data = Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}]} for i in range(2)]
    )
    args = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=6,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        bf16=False,
        save_strategy="no",
        learning_rate=1e-4,
        seed=0,
    )
    policy = AutoModelForCausalLM.from_pretrained(str(default_model_path))
    before = policy.lm_head.weight.detach().clone()
    tok = AutoTokenizer.from_pretrained(str(default_model_path))
    tok.padding_side = "left"
    trainer = GRPOTrainer(
        model=policy, reward_funcs=[fn], args=args, train_dataset=data, processing_class=tok
    )
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 2 and calls == [2, 2]
    for key in ("rewards/grm_group/mean", "grm/abstention_rate", "grm/k_used"):
        assert key in logs[0], (key, sorted(logs[0]))
    # Knockout win/loss in each group of two gives rewards 1 and 0: a real learning signal.
    assert logs[0]["rewards/grm_group/mean"] == pytest.approx(0.5)
    assert not policy.lm_head.weight.detach().equal(before)


# --- The trainers' harder shapes ---------------------------------------------------------


def test_groups_split_across_processes_are_refused_with_the_fix() -> None:
    fn = reward("group", num_generations=4)
    with pytest.raises(ValueError, match="spans processes"):
        fn(prompts=["p"] * 6, completions=["a", "bb", "c", "dd", "e", "ff"])
    with pytest.raises(ValueError, match="not aligned"):  # a slice starting mid-group
        fn(prompts=["p", "p", "q", "q"], completions=["a", "bb", "c", "dd"])
    inferred = reward("group")
    with pytest.raises(ValueError, match="spans processes"):  # 3 of p's 4, then 4 of q
        inferred(prompts=["p"] * 3 + ["q"] * 4, completions=["x", "yy", "z", "a", "b", "c", "d"])
    # A prompt repeated back to back is two whole groups, not a cut one.
    out = inferred(prompts=["p"] * 4 + ["q"] * 2, completions=["a", "bb", "c", "dd", "e", "ff"])
    assert len(out) == 6 and all(r is not None for r in out)


def test_tool_call_only_completions_are_judged_by_their_calls() -> None:
    call = {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 2}}}
    completions = [
        [{"role": "assistant", "content": None, "tool_calls": [call]}],
        [{"role": "assistant", "content": "4"}],
    ]
    prompts = [[{"role": "user", "content": "2+2?"}]] * 2
    out = reward("group", method="round_robin")(prompts=prompts, completions=completions)
    # The tool call is the longer text: it wins (the scripted judge prefers longer).
    assert out[0] is not None and out[1] is not None and out[0] > out[1]


def test_pair_mode_serves_online_dpo_and_group_mode_points_there() -> None:
    prompts = ["p1", "p2"] * 2  # OnlineDPOTrainer: prompts = 2 * batch
    completions = ["long answer", "x", "y", "long answer"]
    out = reward("pair")(prompts=prompts, completions=completions)
    assert out[0] > 0.5 > out[1] and out[0] + out[2] == pytest.approx(1.0)
    assert out[1] + out[3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mode='pair'"):
        reward("group")(prompts=prompts, completions=completions)
    with pytest.raises(ValueError, match="OnlineDPOTrainer's call"):
        reward("pair")(prompts=["a", "b", "c", "d"], completions=["1", "2", "3", "4"])


def test_the_reward_pickles_for_trls_async_grpo() -> None:
    """TRL's async GRPO pickles reward_funcs into a spawned process: the judge is loaded
    there again from its load arguments (here only checked, not loaded: the spawned-process
    test below loads one)."""
    import pickle

    with pytest.raises(TypeError, match="built in memory"):
        pickle.dumps(reward("group"))
    rm = RewardModel(FakeEngine(longer_wins))
    rm.load_spec = {"model": "models/judge", "engine": "transformers", "max_tokens": 8}
    fn = make_trl_reward(rm, mode="pointwise", k=1)
    clone = pickle.loads(pickle.dumps(fn))
    assert clone._judge_obj is None and clone._spec == rm.load_spec
    assert clone.__name__ == "grm_pointwise" and clone.config == fn.config


def _score_in_child(blob: bytes, queue: Any) -> None:
    import pickle

    fn = pickle.loads(blob)
    queue.put(fn(prompts=["What is 2 + 2?"] * 2, completions=["4", "It is 4."]))


@pytest.mark.slow
def test_the_pickled_reward_loads_its_judge_in_a_spawned_process(default_model_path: Path) -> None:
    """As TRL's AsyncRolloutWorker does: pickle, spawn, call there."""
    import multiprocessing as mp
    import pickle

    # on_unparsed="force": a chain without a score (8 tokens rarely hold one) gets its score
    # forced, so every judgement that ran gives a number; None would be a failure here.
    fn = make_trl_reward(
        model=str(default_model_path), engine="transformers", mode="pointwise", k=1,
        max_tokens=8, on_unparsed="force",
    )  # fmt: skip
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_score_in_child, args=(pickle.dumps(fn), queue))
    child.start()
    got = queue.get(timeout=300)
    child.join(timeout=60)
    assert len(got) == 2 and all(isinstance(r, float) and 0.0 <= r <= 1.0 for r in got), got


@pytest.mark.slow
def test_online_dpo_trainer_takes_grm_as_its_pair_reward(
    tmp_path: Path, default_model_path: Path, tf_engine: Any
) -> None:
    """One real step of TRL's experimental OnlineDPOTrainer with the pair-mode reward."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

    judge = RewardModel(tf_engine, config=JudgeConfig(max_tokens=4))
    fn = make_trl_reward(judge, mode="pair", k=1)
    seen: list[int] = []
    original = fn.compute

    def counted(prompts: Any, completions: Any, columns: Any) -> Any:
        seen.append(len(completions))
        return original(prompts, completions, columns)

    fn.compute = counted  # type: ignore[method-assign]
    data = Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}]} for i in range(2)]
    )
    args = OnlineDPOConfig(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=2,
        max_new_tokens=6, report_to="none", use_cpu=True, bf16=False, save_strategy="no",
        logging_steps=1, seed=0,
    )  # fmt: skip
    policy = AutoModelForCausalLM.from_pretrained(str(default_model_path))
    tok = AutoTokenizer.from_pretrained(str(default_model_path))
    trainer = OnlineDPOTrainer(
        model=policy, reward_funcs=[fn], args=args, train_dataset=data, processing_class=tok
    )
    trainer.train()
    assert seen == [4]  # 2 prompts x 2 samples, prompts doubled as OnlineDPO sends them
    assert any("loss" in h for h in trainer.state.log_history)
