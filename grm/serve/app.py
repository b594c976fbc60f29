"""The ASGI app: the routes (:mod:`grm.serve.routes`) over one judging service
(:mod:`grm.serve.service`) behind the gate (:mod:`grm.serve.gate`), and uvicorn's settings.

Every request is judged on its own (see :mod:`grm.serve.service`) and answered with its
result or its own error: the service's :class:`~grm.serve.service.ServiceError` becomes a
JSON answer ``{"detail": ..., "reason": ...}`` with its status. A request whose client
disconnects is cancelled (see :mod:`grm.serve.gate`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from grm.model import RewardModel
from grm.serve.config import ServerConfig
from grm.serve.gate import Gate
from grm.serve.metrics import Metrics
from grm.serve.routes import router
from grm.serve.service import JudgeService, ServiceError

logger = logging.getLogger(__name__)


def create_app(
    judge: RewardModel, config: ServerConfig | None = None, policy_tokenizer: Any = None
) -> Gate:
    """The ASGI app around a judge. ``policy_tokenizer``: the trained policy's tokenizer, whose
    chat format and special tokens ``/get_reward`` removes from OpenRLHF's queries."""
    cfg = config or ServerConfig()
    metrics = Metrics()
    service = JudgeService(judge, cfg, metrics, policy_tokenizer)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        service.start()
        yield
        service.close()

    app = FastAPI(title="grm", version="0.1.0", lifespan=lifespan)
    app.state.service = service
    app.state.metrics = metrics
    app.state.admission = service.admission
    app.include_router(router)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc.errors()), status_code=422)

    return Gate(app, cfg, metrics)


def _printable(value: Any) -> str | int:
    """A location part or message as text any JSON encoder takes: a lone surrogate becomes
    its escape (``\\ud800``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def validation_body(errors: Any) -> dict[str, Any]:
    """FastAPI's 422 body without the echoed input and context: those may hold what no JSON
    answer can carry (a lone surrogate, NaN, an exception), and answering them failed with a
    500 and a dropped keep-alive connection. Each error keeps its field path and message.

    >>> validation_body([{"loc": ("body", "k"), "msg": "bad", "type": "x", "input": float("nan")}])
    {'detail': [{'loc': ['body', 'k'], 'msg': 'bad', 'type': 'x'}], 'reason': 'bad_request'}
    """
    detail = [
        {
            "loc": [_printable(part) for part in err.get("loc", ())],
            "msg": _printable(err.get("msg", "")),
            "type": _printable(err.get("type", "")),
        }
        for err in errors
    ]
    return {"detail": detail, "reason": "bad_request"}


def serve(
    judge: RewardModel,
    config: ServerConfig | None = None,
    log_level: str = "info",
    policy_tokenizer: Any = None,
) -> None:
    """Run the server in this process until interrupted (uvicorn, h11, with limits)."""
    import uvicorn

    cfg = config or ServerConfig()
    app = create_app(judge, cfg, policy_tokenizer)
    logger.info("grm serving on http://%s:%d", cfg.host, cfg.port)
    uvicorn.run(app, **uvicorn_options(cfg), log_level=log_level)


def uvicorn_options(cfg: ServerConfig) -> dict[str, Any]:
    """uvicorn settings from the config: connection limit, idle timeout, header size, and
    the h11 protocol with head and body deadlines (:mod:`grm.serve.deadlines`)."""
    from grm.serve.deadlines import deadline_protocol

    return {
        "host": cfg.host,
        "port": cfg.port,
        # h11 (uvicorn's own parser, with the header-size limit below) plus read deadlines.
        "http": deadline_protocol(cfg.header_timeout_s, cfg.body_timeout_s),
        "limit_concurrency": cfg.max_connections,
        "timeout_keep_alive": cfg.keep_alive_s,
        "h11_max_incomplete_event_size": cfg.max_header_bytes,
        "timeout_graceful_shutdown": 10,
    }
