"""``grm`` command line: one sub-command per module, collected in a registry.

Each sub-command module defines ``add_parser(subparsers)`` that registers its parser and sets
``func`` (called with the parsed args, returns an exit code). The choices and help text come
from the registry, never from a hand-copied list.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from grm.cli.quiet import quiet_output
from grm.cli.signals import exit_on_signals

#: Sub-command name -> module under grm.cli that implements it.
COMMANDS: dict[str, str] = {
    "judge": "grm.cli.judge",
    "serve": "grm.cli.serve",
    "eval": "grm.cli.eval",
    "calibrate": "grm.cli.calibrate",
    "train": "grm.cli.train",
    "train-meta": "grm.cli.train_meta",
    "label": "grm.cli.label",
    "rank": "grm.cli.rank",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grm", description="Generative reasoning reward models with test-time scaling."
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show engine logs and warnings (INFO level)"
    )
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    sub.required = True
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    for command in sub.choices.values():  # `grm judge ... --verbose` works as well as `grm -v`
        command.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show engine logs and warnings (INFO level)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM / SIGHUP unwind like Ctrl-C, so an engine's processes are stopped (grm.cli.signals).
    with quiet_output(bool(getattr(args, "verbose", False))), exit_on_signals():
        try:
            return int(args.func(args) or 0)
        except (ValueError, FileNotFoundError, ImportError) as exc:
            print(f"grm {args.command}: error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
