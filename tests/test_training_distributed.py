"""GRPO under ``accelerate launch --num_processes 2`` on CPU (gloo), killed and resumed.

The run uses grm's own data path (a user-shaped JSONL through ``grm.training.user_data``),
the embedded model, tiny lengths and one torch thread per process. It checks what a user of
a multi-process run relies on: both processes end with the same weights (and not the
starting ones), the held-out accuracy is gathered across processes, and a run killed after
a checkpoint continues from that checkpoint's step to the same final step count.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MAX_STEPS = 4

# Each rank writes a checksum of its weights at the start and the end of training.
_SCRIPT = r"""
import hashlib, json, os, sys
from transformers import TrainerCallback
from grm.training.config import TrainConfig
from grm.training.grpo import run_grpo


class Checksum(TrainerCallback):
    def _write(self, state, model, when):
        h = hashlib.sha256()
        for name, p in sorted(model.named_parameters()):
            h.update(name.encode())
            h.update(p.detach().float().cpu().numpy().tobytes())
        rank = int(os.environ.get("RANK", "0"))
        out = os.path.join(sys.argv[2], f"weights-{when}-step{state.global_step}-rank{rank}.txt")
        with open(out, "w") as f:
            f.write(h.hexdigest())

    def on_train_begin(self, args, state, control, model=None, **kw):
        self._write(state, model, "begin")

    def on_train_end(self, args, state, control, model=None, **kw):
        self._write(state, model, "end")


if __name__ == "__main__":
    run_grpo(TrainConfig.from_yaml(sys.argv[1]), callbacks=[Checksum()])
"""


def _pairs(path: Path, n: int = 16) -> None:
    rows = []
    for i in range(n):
        a, b = 11 + i, 23 + 2 * i
        good, bad = str(a + b), str(a + b + 1)
        label = "A>B" if i % 2 else "B>A"
        ra, rb = (good, bad) if label == "A>B" else (bad, good)
        rows.append({"question": f"{a} + {b}?", "response_A": ra, "response_B": rb, "label": label})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(script: Path, cfg: Path, marks: Path) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
           "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_port()),
           str(script), str(cfg), str(marks)]  # fmt: skip
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )  # fmt: skip


def _kill_tree(pid: int) -> None:
    """SIGKILL the launcher and every worker (torchrun starts workers in their own session,
    so killing the launcher's process group alone leaves them running)."""
    import psutil

    root = psutil.Process(pid)
    for p in [*root.children(recursive=True), root]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)


def _complete_checkpoints(folder: Path) -> list[int]:
    return sorted(
        int(p.name.split("-")[1])
        for p in folder.glob("checkpoint-*")
        if (p / "trainer_state.json").is_file()
    )


def test_two_process_grpo_same_weights_and_kill_resume(
    tmp_path: Path, default_model_path: Path
) -> None:
    data, out, marks = tmp_path / "prefs.jsonl", tmp_path / "run", tmp_path / "marks"
    marks.mkdir()
    _pairs(data)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"output_dir: {out}\ndata: {data}\nstages: [grpo]\nheldout_fraction: 0.25\n"
        "n_train: 8\ntorch_threads: 1\nseed: 0\n"
        "heldout_every: 2\nheldout_n: 3\nheldout_ks: [1, 2]\nheldout_max_tokens: 4\n"
        "report_to: tensorboard\n"
        "rewards: {verdict: 1.0, format: 0.1}\n"
        f"grpo: {{max_steps: {MAX_STEPS}, num_generations: 2, per_device_train_batch_size: 2,"
        " max_completion_length: 8, learning_rate: 1.0e-3, entropy_coef: 0.01,"
        " save_steps: 1, save_total_limit: 5, logging_steps: 1,"
        " gradient_checkpointing: false}\n"
    )
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    ckpts = out / "checkpoints-grpo"

    # Run 1: killed (the whole process group, SIGKILL) once a checkpoint is complete.
    proc = _launch(script, cfg, marks)
    deadline = time.monotonic() + 600
    while not _complete_checkpoints(ckpts) and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.2)
    _kill_tree(proc.pid)
    log1 = proc.communicate(timeout=60)[0]
    done = _complete_checkpoints(ckpts)
    assert done, log1[-3000:]
    assert max(done) < MAX_STEPS, "the run finished before it could be killed"
    assert not (out / "model.safetensors").exists()

    # Run 2: the same command resumes from the newest complete checkpoint.
    proc = _launch(script, cfg, marks)
    log2 = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, log2[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    begins = [r["step"] for r in rows if r.get("event") == "train_begin"]
    assert begins[0] == 0 and begins[-1] >= max(done), begins
    resumed_at = begins[-1]
    last_run = rows[max(i for i, r in enumerate(rows) if r.get("event") == "train_begin") :]
    steps = [r["step"] for r in last_run if "loss" in r]
    assert steps == list(range(resumed_at + 1, MAX_STEPS + 1)), steps
    state = json.loads((ckpts / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS and state["max_steps"] == MAX_STEPS

    # Both processes trained the same weights, and training changed them.
    end = {p.read_text() for p in marks.glob(f"weights-end-step{MAX_STEPS}-rank*.txt")}
    start = {p.read_text() for p in marks.glob("weights-begin-step0-rank*.txt")}
    assert len(list(marks.glob(f"weights-end-step{MAX_STEPS}-rank*.txt"))) == 2
    assert len(end) == 1 and len(start) == 1 and end != start
    resumed = {p.read_text() for p in marks.glob(f"weights-begin-step{resumed_at}-rank*.txt")}
    assert len(resumed) == 1  # both ranks loaded the same checkpoint

    # Held-out accuracy: before training and every 2 steps, over both processes' shares.
    held = [r for r in rows if "heldout/accuracy_k1" in r]
    assert {r["step"] for r in held} >= {0, MAX_STEPS}
    assert all(r["heldout/n"] == 3 for r in held)
    assert (out / "model.safetensors").is_file()

    # The same figures reached the trainer's report_to backend (TensorBoard, rank 0 only).
    tags = _tensorboard_tags(ckpts)
    assert {"train/loss", "train/heldout/accuracy_k1", "train/heldout/accuracy_k2"} <= tags, tags


def _tensorboard_tags(folder: Path) -> set[str]:
    """Scalar tags in the TensorBoard event files under ``folder`` (TFRecord framing)."""
    import struct

    from tensorboardX.proto import event_pb2

    tags: set[str] = set()
    for path in folder.rglob("events.out.tfevents*"):
        data = path.read_bytes()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[pos + 12 : pos + 12 + length])
            tags.update(v.tag for v in event.summary.value)
            pos += 12 + length + 4
    return tags
