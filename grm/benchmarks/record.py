"""The record of one benchmark run, and the machine it ran on.

A record is what a figure in the docs is quoted from (as vLLM's ``vllm bench --save-result``
and lm-evaluation-harness' results JSON are): the exact command line, the git commit, the
date, the machine, the load average at start and end (these 2-core machines are shared, and
a figure taken under load says so), every figure with its n and 95% bootstrap interval, and
small per-item raw results so a figure can be recomputed. Records are compact JSON, one file
per run, under ``docs/records/``.

>>> fig = figure([1.0, 0.0, 1.0, 1.0])
>>> fig["mean"], fig["n"]
(0.75, 4)
>>> percentile([3.0, 1.0, 2.0], 50)
2.0
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from grm.scaling_metrics import bootstrap_interval

ROOT = Path(__file__).resolve().parents[2]
"""The checkout (records and docs are written relative to it)."""
RECORDS = ROOT / "docs" / "records"
"""Where records go (one compact JSON file per run)."""


def figure(values: Sequence[float], seed: int = 0) -> dict[str, Any]:
    """The mean of per-item ``values`` with its n and 95% percentile-bootstrap interval
    (:func:`grm.scaling_metrics.bootstrap_interval`, scipy's bootstrap: the one interval the
    project uses)."""
    n = len(values)
    if not n:
        return {"mean": None, "n": 0, "low": None, "high": None}
    low, high = bootstrap_interval(values, seed=seed)
    return {"mean": sum(values) / n, "n": n, "low": low, "high": high}


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0-100) of ``values``; nan when empty."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _gpus() -> list[str]:
    """GPU names from ``nvidia-smi`` (none when it is absent): no torch import needed."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def machine() -> dict[str, Any]:
    """The machine a run is on: CPU model, cores, RAM, GPUs, OS and Python."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "gpus": _gpus(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def machine_note(m: dict[str, Any] | str) -> str:
    """One line for a table caption: ``"2-core AMD EPYC 7B13, 23.4 GiB, no GPU"``.

    Older records hold the machine as a string already; it is returned as it is.
    """
    if isinstance(m, str):
        return m
    gpu = ", ".join(m.get("gpus") or []) or "no GPU"
    return f"{m.get('cores')}-core {m.get('cpu')}, {m.get('ram_gib')} GiB, {gpu}"


def git_commit(root: Path = ROOT) -> str | None:
    """The checkout's commit, with ``+dirty`` when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


class Run:
    """One benchmark run's record, started when it is built.

    ``figures`` and ``items`` are filled by the benchmark; :meth:`finish` stamps the end
    (seconds, load average) and :meth:`save` writes the record as compact JSON.

    >>> run = Run("example", kind="doc", args={"k": 2}, argv=["bench.py", "--k", "2"])
    >>> run.figures["accuracy"] = figure([1.0, 0.0])
    >>> rec = run.finish()
    >>> rec["kind"], rec["command"], rec["figures"]["accuracy"]["n"]
    ('doc', 'bench.py --k 2', 2)
    """

    def __init__(
        self,
        name: str,
        kind: str,
        args: dict[str, Any] | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        argv = list(sys.argv if argv is None else argv)
        self.name = name
        self.data: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "command": " ".join(argv),
            "argv": argv,
            "git_commit": git_commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "load_average": {"start": load_average()},
            "args": dict(args or {}),
        }
        self.figures: dict[str, Any] = {}
        self.items: list[Any] = []
        self._start = time.perf_counter()

    def finish(self) -> dict[str, Any]:
        """The record with the end stamped (callable more than once: a long run may save
        what it has after each part)."""
        self.data["load_average"]["end"] = load_average()
        self.data["seconds"] = round(time.perf_counter() - self._start, 2)
        return {**self.data, "figures": self.figures, "items": self.items}

    def save(self, path: str | Path | None = None) -> Path:
        """Write the record (default ``docs/records/<name>.json``); returns the path."""
        out = Path(path) if path else RECORDS / f"{self.name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dumps(self.finish()))
        return out


def header(run: Run) -> dict[str, Any]:
    """The run's identity for a report's top level: ``command``, ``git_commit``, ``date``,
    ``machine`` (one line, :func:`machine_note`), ``machine_info`` (the fields), and the load
    average at start and now."""
    rec = run.finish()
    return {
        "command": rec["command"],
        "git_commit": rec["git_commit"],
        "date": rec["date"],
        "machine": machine_note(rec["machine"]),
        "machine_info": rec["machine"],
        "load_average_start": rec["load_average"]["start"],
        "load_average": rec["load_average"]["end"],
    }


def dumps(record: dict[str, Any]) -> str:
    """Compact JSON, one line: records hold per-item results and are read by programs."""
    return json.dumps(record, separators=(",", ":"), default=str) + "\n"


def load(name_or_path: str | Path) -> dict[str, Any]:
    """A record by name (``docs/records/<name>.json``) or path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = RECORDS / f"{name_or_path}.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data
