"""Data-set jobs with the real default model: end to end, killed and resumed, DPO, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import grm
from grm import JudgeConfig, RewardModel
from grm.jobs import ModelSpec
from grm.jobs.output import all_records
from grm.jobs.shards import ShardStore


def sums(n: int) -> list[dict[str, Any]]:
    """Short RewardBench rows (a sum, the right and a wrong answer): cheap prompts."""
    return [
        {
            "prompt": f"What is {10 + i} + {20 + i}?",
            "chosen": f"{30 + 2 * i}",
            "rejected": f"{31 + 2 * i}",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_label_a_small_set_with_the_embedded_model(tf_engine: Any, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", sums(4))
    rm = RewardModel(tf_engine, config=JudgeConfig(max_tokens=8))
    s = grm.label(
        src,
        tmp_path / "out.jsonl",
        rm=rm,
        k=2,
        batch_size=2,
        chains=True,
        feedback=True,
        progress=False,
    )
    out = all_records(tmp_path / "out.jsonl")
    assert len(out) == 4 and len({r["grm_row_id"] for r in out}) == 4
    for r in out:
        assert r["grm_verdict"] in ("A", "B", "tie", "none")
        assert r["grm_k"] == 2 and len(r["grm_chains"]) == 2 and "grm_feedback" in r
        assert sum(r["grm_votes"]) + r["grm_ties"] + r["grm_abstentions"] == 2
        assert {tuple(c["order"]) for c in r["grm_chains"]} == {(0, 1), (1, 0)}
    assert s.judged == 4 and s.chains == 8 and s.completion_tokens > 0 and s.chains_per_s > 0


@pytest.mark.slow
def test_a_killed_job_resumes_and_holds_every_row_once(
    default_model_path: Path, tmp_path: Path
) -> None:
    rows = sums(6)
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable, "-m", "grm.cli", "label", str(src), "--out", str(out),
        "--engine", "transformers", "--k", "2", "--max-tokens", "8", "--batch-size", "1",
    ]  # fmt: skip
    store = ShardStore(str(out) + ".parts")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not store.files() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.files(), "no shard appeared"
        os.kill(proc.pid, signal.SIGKILL)  # killed mid-run, by its pid
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = {r["id"] for r in store.records()}
    assert 0 < len(before) < len(rows) and not out.exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"skipped (done before): {len(before)}" in again.stdout
    ids = [r["id"] for r in store.records()]
    assert len(ids) == len(set(ids)) == len(rows)  # nothing judged twice, nothing lost
    written = all_records(out)
    assert [r["prompt"] for r in written] == [r["prompt"] for r in rows]
    assert all(r["grm_verdict"] in ("A", "B", "tie", "none") for r in written)


@pytest.mark.slow
def test_dpo_output_trains_a_dpo_step(
    tf_engine: Any, default_model_path: Path, tmp_path: Path
) -> None:
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    src = write_jsonl(tmp_path / "in.jsonl", sums(4))
    rm = RewardModel(tf_engine, config=JudgeConfig(max_tokens=8))
    s = grm.label(
        src, tmp_path / "dpo.jsonl", rm=rm, k=2, format="dpo", ties="keep", progress=False
    )
    data = load_dataset("json", data_files=str(tmp_path / "dpo.jsonl"), split="train")
    assert s.written == len(data) > 0 and data.column_names == ["prompt", "chosen", "rejected"]
    model = AutoModelForCausalLM.from_pretrained(default_model_path)
    args = DPOConfig(
        output_dir=str(tmp_path / "dpo"), max_steps=1, per_device_train_batch_size=2,
        max_length=64, report_to=[], use_cpu=True, save_strategy="no", logging_steps=1,
    )  # fmt: skip
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=AutoTokenizer.from_pretrained(default_model_path),
    )
    trainer.train()
    assert trainer.state.global_step == 1
    assert any("loss" in h for h in trainer.state.log_history)


@pytest.mark.slow
@pytest.mark.ray
def test_the_ray_path_gives_the_single_machine_verdicts(
    default_model_path: Path, tmp_path: Path
) -> None:
    ray = pytest.importorskip("ray")
    src = write_jsonl(tmp_path / "in.jsonl", sums(4))
    # The same pair twice and lines that are not rows (issue 26): both paths keep every row.
    with src.open("a") as f:
        f.write(json.dumps(sums(2)[1]) + '\n{"prompt": "cut\n"x"\n' + json.dumps(sums(3)[2]) + "\n")
    spec = ModelSpec(engine="transformers", judge={"max_tokens": 8})
    job = {"k": 2, "batch_size": 2, "progress": False}
    single = grm.label(src, tmp_path / "single.jsonl", model=spec, **job)
    ray.init(num_cpus=2, log_to_driver=False)
    try:
        on_ray = grm.label(src, tmp_path / "ray.jsonl", model=spec, ray={"actors": 1}, **job)
    finally:
        ray.shutdown()
    assert any((tmp_path / "ray.jsonl.parts").glob("ray-*/*.json*"))  # written by Ray Data
    keys = ("grm_row_id", "grm_verdict", "grm_p_a", "grm_votes", "grm_k", "grm_completion_tokens")
    a = [{k: r[k] for k in keys} for r in all_records(tmp_path / "single.jsonl")]
    b = [{k: r[k] for k in keys} for r in all_records(tmp_path / "ray.jsonl")]
    assert a == b and len(a) == 6 and len({r["grm_row_id"] for r in a}) == 6
    assert (single.judged, single.chains) == (on_ray.judged, on_ray.chains) == (4, 8)
    errors = [all_records(tmp_path / f"{name}.errors.jsonl") for name in ("single", "ray")]
    assert errors[0] == errors[1] and [e["line"] for e in errors[0]] == [6, 7]
