"""The judge over HTTP: kept as the import path of earlier releases; see :mod:`grm.serve`."""

from __future__ import annotations

from grm.serve import (
    ServerConfig,
    create_app,
    is_loopback,
    response_of,
    serve,
    uvicorn_options,
)

__all__ = [
    "ServerConfig",
    "create_app",
    "is_loopback",
    "response_of",
    "serve",
    "uvicorn_options",
]
