"""``grm serve``: serve a judge over HTTP (POST /judge, POST /get_reward, GET /health, /metrics).

grm serve                                         # embedded model on 127.0.0.1:8000
grm serve --model ckpt/ --engine vllm --k 8 --port 8000
GRM_API_TOKEN=secret grm serve --host 0.0.0.0     # any other interface needs a token
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from grm.cli.judge import add_judge_config_args, add_model_args

#: JudgeConfig fields this command declares itself: --k and --max-k are the server's
#: default chains and per-request cap (ServerConfig), not the judge's.
OWN_FLAGS = frozenset({"k", "max_k"})


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the judge over HTTP (OpenRLHF-compatible rewards)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--token",
        default=os.environ.get("GRM_API_TOKEN"),
        help="bearer token clients must send (default $GRM_API_TOKEN); required off loopback",
    )
    p.add_argument("--k", type=int, default=4, help="chains per judgment when a request sets none")
    p.add_argument("--max-k", type=int, default=64, help="the most chains a request may ask for")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20)
    p.add_argument("--max-items", type=int, default=256, help="items per request (413 above)")
    p.add_argument("--max-queue", type=int, default=1024, help="items waiting (429 above)")
    p.add_argument(
        "--batch-window-ms",
        type=float,
        default=10.0,
        help="wait after the first queued request for others to share its call",
    )
    p.add_argument("--max-batch", type=int, default=128, help="most items in one engine call")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before a 503")
    add_model_args(p)
    # --k / --max-k above are the server's (default and cap per request).
    add_judge_config_args(p, skip=OWN_FLAGS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from grm import JudgeConfig, RewardModel
    from grm.cli.options import config_overrides, engine_options
    from grm.server import ServerConfig, serve

    # Validate the server settings before the slow model load.
    cfg = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        k=args.k,
        max_k=args.max_k,
        max_body_bytes=args.max_body_bytes,
        max_items=args.max_items,
        max_queue=args.max_queue,
        batch_window_ms=args.batch_window_ms,
        max_batch=args.max_batch,
        request_timeout_s=args.timeout,
    )
    rm = RewardModel.load(
        args.model,
        engine=args.engine,
        template=args.template,
        engine_options=engine_options(args.engine_option),
        **config_overrides(args, JudgeConfig, skip=OWN_FLAGS),
    )
    print(
        f"grm serving {rm.model_path} ({rm.engine.name}) on http://{cfg.host}:{cfg.port}",
        flush=True,
    )
    serve(rm, cfg, log_level="info" if args.verbose else "warning")
    return 0
