"""Run ``grm serve`` on a scripted engine in this process (tests start it as a subprocess).

    python tests/serve_fake.py --port 8123 [--faults] [--token ...] [--timeout 2]
        [--tokenizer DIR] [--hang-on TEXT --events FILE] [--header-timeout S]

``--faults`` serves a :class:`FaultEngine` (errors, hangs, slow calls); ``--fail-mid`` a
:class:`MidRequestFault` (chains sampled, then the engine fails); ``--abstain`` a judge whose
every chain abstains (``--on-abstain`` sets /get_reward's policy); ``--hang-on TEXT``
one whose calls hang when their prompt contains TEXT (each call's start, end or cancellation
appended to ``--events``); otherwise every chain says "[[A]]" at once. ``--tokenizer``
gives the engine a real HF tokenizer, whose special tokens the OpenRLHF route strips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fake_engine import FakeEngine  # noqa: E402
from fault_engine import FaultEngine, MidRequestFault, undecided, verdict_script  # noqa: E402

from grm import JudgeConfig, RewardModel  # noqa: E402
from grm.reward_map import RewardMapConfig  # noqa: E402
from grm.serve import ServerConfig, serve  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token", default=None)
    p.add_argument("--faults", action="store_true")
    p.add_argument("--fail-mid", action="store_true")
    p.add_argument("--abstain", action="store_true")
    p.add_argument("--on-abstain", default="drop")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--max-chains", type=int, default=16384)
    p.add_argument("--max-request-chains", type=int, default=4096)
    p.add_argument("--max-body-bytes", type=int, default=1 << 20)
    p.add_argument("--tokenizer", default=None)
    p.add_argument("--hang-on", default=None)
    p.add_argument("--events", type=Path, default=None)
    p.add_argument("--header-timeout", type=float, default=10.0)
    p.add_argument("--body-timeout", type=float, default=60.0)
    p.add_argument("--max-connections", type=int, default=512)
    args = p.parse_args()
    engine: FakeEngine = FakeEngine(verdict_script)
    config = JudgeConfig()
    if args.faults:
        engine = FaultEngine()
    elif args.fail_mid:
        engine = MidRequestFault()
    elif args.abstain:
        engine, config = FakeEngine(undecided), JudgeConfig(on_unparsed="abstain")
    elif args.hang_on:
        engine = FaultEngine(hang_on=args.hang_on, events=args.events)
    if args.tokenizer:
        from transformers import AutoTokenizer

        engine.tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)  # type: ignore[attr-defined]
    cfg = ServerConfig(
        port=args.port,
        token=args.token,
        request_timeout_s=args.timeout,
        max_chains=args.max_chains,
        max_request_chains=min(args.max_request_chains, args.max_chains),
        max_body_bytes=args.max_body_bytes,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        max_connections=args.max_connections,
        reward=RewardMapConfig(on_abstain=args.on_abstain),
    )
    serve(RewardModel(engine, config=config), cfg, log_level="warning")


if __name__ == "__main__":
    main()
