"""The options every benchmark shares, declared once (as ``vllm bench``'s common arguments).

A command adds the ones it uses, with its own defaults where they differ::

    p = argparse.ArgumentParser()
    add_common(p, "engine", "k", "max_tokens", "seed", "json", "record", max_tokens=64)
    add_common(p, "model", model={"action": "append", "required": True})

A keyword whose value is a dict replaces the option's argparse settings; any other value is
its default.

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> add_common(p, "k", "engine_option", k=8)
>>> a = p.parse_args(["--engine-option", "max_model_len=4096"])
>>> a.k, engine_options(a)
(8, {'max_model_len': 4096})
"""

from __future__ import annotations

import argparse
import json
from typing import Any

COMMON: dict[str, tuple[str, dict[str, Any]]] = {
    "model": ("--model", {"default": None, "help": "a checkpoint dir or bundled judge name"}),
    "engine": ("--engine", {"default": "vllm", "help": "vllm, transformers, ..."}),
    "k": ("--k", {"type": int, "default": 8, "help": "chains per judgement"}),
    "max_k": ("--max-k", {"type": int, "default": 16, "help": "chains per pair (largest k)"}),
    "max_tokens": ("--max-tokens", {"type": int, "default": 64, "help": "tokens per chain"}),
    "temperature": ("--temperature", {"type": float, "default": 1.0}),
    "seed": ("--seed", {"type": int, "default": 0}),
    "threads": ("--threads", {"type": int, "default": None, "help": "torch CPU threads"}),
    "engine_option": (
        "--engine-option",
        {"action": "append", "default": [], "help": "KEY=JSON, passed to the engine"},
    ),
    "json": ("--json", {"default": None, "help": "write the report (JSON) here"}),
    "record": (
        "--record",
        {"default": None, "help": "also write a run record to docs/records/NAME.json"},
    ),
}


def add_common(parser: argparse.ArgumentParser, *names: str, **overrides: Any) -> None:
    """Add the named common options to ``parser`` (and those named only in ``overrides``)."""
    for name in dict.fromkeys([*names, *overrides]):
        if name not in COMMON:
            raise ValueError(f"unknown common option {name!r}; choose from {sorted(COMMON)}.")
        flag, kwargs = COMMON[name]
        kwargs = dict(kwargs)
        over = overrides.get(name)
        if isinstance(over, dict):
            kwargs.update(over)
            if kwargs.get("action") == "append" and "type" in kwargs:
                kwargs.pop("type")
        elif name in overrides:
            kwargs["default"] = over
        parser.add_argument(flag, **kwargs)


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--engine-option KEY=JSON`` pairs as a dict (a bare word that is not JSON stays a
    string)."""
    out: dict[str, Any] = {}
    for opt in getattr(args, "engine_option", None) or []:
        key, sep, value = opt.partition("=")
        if not sep:
            raise ValueError(f"--engine-option takes KEY=JSON, got {opt!r}.")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def set_threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` to torch (1 is several times faster on a busy shared CPU)."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
