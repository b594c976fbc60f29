"""scripts/gpu_check.sh: its dry run on CPU, and how its record reads the steps' outcomes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from grm.benchmarks import gpu_check

ROOT = Path(__file__).resolve().parents[1]


def test_the_dry_run_prints_every_step_and_runs_nothing() -> None:
    records = set((ROOT / "docs" / "records").glob("gpu_check-*.json"))
    done = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ("setup", *gpu_check.CHECKS, "record"):
        assert f"[{name}" in out, (name, out)
    assert "judge --example --engine vllm --json" in out
    assert "bench_throughput.py --requests 32 --k 8" in out
    assert set((ROOT / "docs" / "records").glob("gpu_check-*.json")) == records


def test_the_setup_is_the_readmes_gpu_section() -> None:
    """The check installs what the README's GPU section installs, no more."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Install on a GPU machine", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"GRM_EXTRAS=(\S+) TORCH_SPEC=\"([^\"]+)\" bash scripts/setup.sh", section)
    assert m, "the README's GPU section no longer shows its setup.sh line"
    out = subprocess.run(
        ["bash", "scripts/gpu_check.sh", "--dry-run"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    setup = next(line for line in out.splitlines() if line.startswith("[setup"))
    assert f"GRM_EXTRAS={m.group(1)} TORCH_SPEC={m.group(2)} bash scripts/setup.sh" in setup


def _steps(work: Path, *steps: dict[str, object]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))


def test_the_record_passes_fails_and_skips_by_each_steps_rule(tmp_path: Path) -> None:
    work = tmp_path / "work"
    _steps(
        work,
        {"step": "main_job", "rc": 0, "seconds": 40.0},
        {"step": "seeds", "rc": 0, "seconds": 30.0},
        {"step": "throughput", "rc": 0, "seconds": 90.0},
        {"step": "grpo_step", "rc": 124, "timed_out": True, "seconds": 110.0},
        {"step": "data_parallel", "skipped": "needs 2 GPUs, nvidia-smi lists 1"},
    )
    (work / "main_job.json").write_text(
        json.dumps({"winner": "A", "votes": [8, 0], "engine": "vllm", "k_used": 8})
    )
    seeds = {"cpu": False, "identical_twice": True, "another_seed_differs": True}
    (work / "seeds.json").write_text(json.dumps(seeds))
    rows = {"b_raw_vllm": {"judgments_per_s": 10.0}, "a_grm_vllm": {"judgments_per_s": 9.0}}
    summary = {"a_over_b": 0.9, "a_inline_over_b": 0.7, "a_abstain_over_b": 1.0}
    (work / "throughput.json").write_text(json.dumps({"rows": rows, "summary": summary}))
    out = tmp_path / "records" / "gpu.json"
    assert gpu_check.record(work, out, "bash scripts/gpu_check.sh") == 1  # a check failed
    rec = json.loads(out.read_text())
    assert set(rec) >= {"command", "git_commit", "date", "gpus", "steps"}
    passed = {name: step["pass"] for name, step in rec["steps"].items()}
    # 0.9x misses the 0.95x goal; the GRPO step timed out; one GPU skips data parallel.
    assert passed == {
        "main_job": True,
        "seeds": True,
        "throughput": False,
        "grpo_step": False,
        "data_parallel": None,
    }
    assert rec["steps"]["throughput"]["figures"]["a_over_b"] == 0.9


def test_a_zero_exit_without_its_figures_is_a_failure(tmp_path: Path) -> None:
    _steps(tmp_path, {"step": "seeds", "rc": 0, "seconds": 1.0})
    (tmp_path / "seeds.json").write_text(json.dumps({"cpu": False, "identical_twice": False}))
    assert gpu_check.record(tmp_path, tmp_path / "r.json", "x") == 1
    _steps(tmp_path, {"step": "main_job", "rc": 0, "seconds": 1.0})  # no main_job.json
    assert gpu_check.record(tmp_path, tmp_path / "r.json", "x") == 1
