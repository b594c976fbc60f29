"""``grm serve``: the judge over HTTP (FastAPI + uvicorn), hardened for RL trainers.

The server binds 127.0.0.1 unless told otherwise; any other interface needs a bearer token
or an allow-list of client networks. OpenRLHF's own reward server binds 0.0.0.0 with no
auth (OpenRLHF issue 1317), which lets anyone on the network spend the GPU.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
    raise ImportError("grm.serve needs FastAPI and uvicorn: pip install 'grm[serve]'.")
if importlib.util.find_spec("prometheus_client") is None:
    raise ImportError("grm.serve needs prometheus_client: pip install 'grm[serve]'.")

from grm.serve.app import create_app, serve, uvicorn_options  # noqa: E402
from grm.serve.config import ServerConfig, is_loopback  # noqa: E402
from grm.serve.openrlhf import response_of  # noqa: E402

__all__ = [
    "ServerConfig",
    "create_app",
    "is_loopback",
    "response_of",
    "serve",
    "uvicorn_options",
]
