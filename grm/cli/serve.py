"""``grm serve``: serve a judge over HTTP (POST /judge, /judge_batch, /get_reward, GET /health,
/metrics).

grm serve                                         # embedded model on 127.0.0.1:8000
grm serve --model ckpt/ --engine vllm-async --k 8 --port 8000   # vLLM continuous batching
GRM_API_TOKEN=$(openssl rand -hex 24) grm serve --host 0.0.0.0  # other interfaces: a token
grm serve --host 10.0.0.5 --allow-from 10.0.0.0/8 # or an allow-list (OpenRLHF sends no token)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from grm.cli.judge import add_judge_config_args, add_model_args

#: JudgeConfig fields this command declares itself: --k is the server's default chains
#: (ServerConfig.k); the judge's max_k (where k="auto" stops) is --auto-max-k, because
#: --max-k was, and still is (deprecated), the server's cap on a request's k.
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
    p.add_argument(
        "--allow-from",
        action="append",
        default=[],
        metavar="CIDR",
        help="client network allowed without a token (repeat), e.g. 10.0.0.0/8 for OpenRLHF "
        "on a private network; others get 403",
    )
    p.add_argument("--k", type=int, default=4, help="chains per judgment when a request sets none")
    p.add_argument(
        "--max-request-k",
        type=int,
        default=None,
        help="the largest fixed k a request may ask for (default 64; 422 above)",
    )
    p.add_argument(
        "--max-k",
        type=int,
        default=None,
        help="deprecated: the old name of --max-request-k",
    )
    p.add_argument(
        "--auto-max-k",
        type=int,
        default=None,
        help="k='auto': the most chains the judge samples per judgment (JudgeConfig.max_k, "
        "default 16); admission charges an auto request this many",
    )
    p.add_argument("--max-body-bytes", type=int, default=1 << 20)
    p.add_argument("--max-items", type=int, default=256, help="items per request (413 above)")
    p.add_argument(
        "--max-request-chains", type=int, default=4096, help="chains one request may cost (413)"
    )
    p.add_argument(
        "--max-chains", type=int, default=16384, help="chains admitted at once (429 above)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds before a 504 (keep it under OpenRLHF's 180 s client timeout)",
    )
    p.add_argument("--max-connections", type=int, default=512, help="open connections (503)")
    p.add_argument(
        "--keep-alive", type=int, default=5, help="seconds an idle keep-alive connection stays"
    )
    p.add_argument(
        "--max-header-bytes", type=int, default=16384, help="largest request head (refused above)"
    )
    p.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds for a request head to arrive, else 408 and close (slowloris defence)",
    )
    p.add_argument(
        "--body-timeout",
        type=float,
        default=60.0,
        help="seconds for a request body to arrive after its head, else 408 and close",
    )
    p.add_argument(
        "--on-abstain",
        choices=("drop", "neutral", "value"),
        default="drop",
        help="/get_reward when every chain abstained: 'drop' answers 503 (no_verdict; "
        "OpenRLHF retries, then drops the sample), 'neutral' sends 0.5, 'value' sends "
        "--abstain-value (both counted in grm_failed_judgements_total)",
    )
    p.add_argument(
        "--abstain-value",
        type=float,
        default=0.0,
        help="the reward sent under --on-abstain value",
    )
    p.add_argument(
        "--policy-tokenizer",
        default=None,
        metavar="DIR",
        help="the trained policy's tokenizer (a local folder): /get_reward removes its chat "
        "markup and special tokens from OpenRLHF's queries (known formats are also detected "
        "without it)",
    )
    add_model_args(p)
    # --k / --max-k above are the server's (default and cap per request).
    add_judge_config_args(p, skip=OWN_FLAGS)
    p.set_defaults(func=run)


def request_k_cap(args: argparse.Namespace) -> int:
    """--max-request-k, or the deprecated --max-k (with a message on stderr)."""
    if args.max_k is not None:
        print(
            "grm serve: --max-k is deprecated; it is the server's cap on a request's k, now "
            "--max-request-k (the judge's own cap for k='auto' is --auto-max-k).",
            file=sys.stderr,
        )
        if args.max_request_k is not None and args.max_request_k != args.max_k:
            raise ValueError(
                f"--max-k {args.max_k} and --max-request-k {args.max_request_k} disagree; "
                "pass only --max-request-k."
            )
        return int(args.max_k)
    return 64 if args.max_request_k is None else int(args.max_request_k)


def run(args: argparse.Namespace) -> int:
    from grm import JudgeConfig, RewardModel
    from grm.cli.options import config_overrides, engine_options
    from grm.model import resolve_engine_name
    from grm.reward_map import RewardMapConfig
    from grm.serve import ServerConfig, serve

    # Validate the server settings before the slow model load.
    cfg = ServerConfig(
        host=args.host,
        port=args.port,
        token=args.token,
        k=args.k,
        max_request_k=request_k_cap(args),
        max_body_bytes=args.max_body_bytes,
        max_items=args.max_items,
        allow_from=tuple(args.allow_from),
        max_request_chains=args.max_request_chains,
        max_chains=args.max_chains,
        request_timeout_s=args.timeout,
        max_connections=args.max_connections,
        keep_alive_s=args.keep_alive,
        max_header_bytes=args.max_header_bytes,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        reward=RewardMapConfig(on_abstain=args.on_abstain, abstain_value=args.abstain_value),
    )
    policy_tokenizer = None
    if args.policy_tokenizer is not None:
        from transformers import AutoTokenizer

        policy_tokenizer = AutoTokenizer.from_pretrained(args.policy_tokenizer)
    # Online serving rides vLLM's continuous batching: 'auto' picks AsyncLLM when vLLM is there.
    engine = "vllm-async" if resolve_engine_name(args.engine) == "vllm" else args.engine
    rm = RewardModel.load(
        args.model,
        engine=engine,
        template=args.template,
        engine_options=engine_options(args.engine_option),
        **config_overrides(args, JudgeConfig, skip=OWN_FLAGS),
        **({} if args.auto_max_k is None else {"max_k": args.auto_max_k}),
    )
    print(
        f"grm serving {rm.model_path} ({rm.engine.name}) on http://{cfg.host}:{cfg.port}",
        flush=True,
    )
    from grm.cli.signals import hangup_as_terminate

    try:
        with hangup_as_terminate():  # uvicorn shuts down gracefully on SIGTERM / SIGINT
            serve(
                rm,
                cfg,
                log_level="info" if args.verbose else "warning",
                policy_tokenizer=policy_tokenizer,
            )
    finally:
        rm.close()  # stop the engine (vLLM's engine-core process) before exiting
    return 0
