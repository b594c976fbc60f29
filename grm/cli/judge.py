"""``grm judge``: judge a prompt and responses from flags, a JSON file or stdin.

grm judge --example                              # the bundled example, bundled judge
grm judge --example --model embedded             # the same with the untrained base model
grm judge --prompt "2+2?" -r "4" -r "5" --k 8
echo '{"prompt": "...", "responses": ["...", "..."]}' | grm judge --input - --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import Any

from grm.aggregation import aggregator_names
from grm.cli.options import add_config_args, config_overrides, engine_options
from grm.config import JudgeConfig
from grm.inference import engine_names
from grm.judges import EMBEDDED, judge_names
from grm.stopping import stopping_rule_names
from grm.templates import get_template, template_names
from grm.types import chain_dict

#: JudgeConfig fields whose values are registry names: the flag's choices come from there.
REGISTRY_CHOICES = {"aggregator": aggregator_names, "stopping": stopping_rule_names}
#: The judge ``--example`` uses when ``--model`` is not given: the bundled judge trained on
#: the kind of question the bundled example asks (grm/data/example.json: counting a list).
EXAMPLE_JUDGE = "grm-judge-135m"


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Flags shared by every sub-command that loads a judge: model, engine, template."""
    bundled = ", ".join(judge_names()) or "none in this install"
    p.add_argument(
        "--model",
        default=None,
        help=f"checkpoint dir, hub id, bundled judge ({bundled}) or '{EMBEDDED}' (the "
        f"untrained base); default: the embedded model ({EXAMPLE_JUDGE} with --example)",
    )
    p.add_argument(
        "--engine", default="auto", choices=["auto", *engine_names()], help="inference backend"
    )
    p.add_argument(
        "--template",
        default=None,
        help=f"one of {', '.join(template_names())}, or a template file (.yaml); "
        "default: the model's own format when its name is known, else 'default'",
    )
    p.add_argument(
        "--engine-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="engine option (repeat); VALUE is read as JSON, else as a string, e.g. "
        "tensor_parallel_size=2, enforce_eager=true, urls=http://h1:8000,http://h2:8000",
    )


def add_judge_config_args(p: argparse.ArgumentParser, skip: Collection[str] = ()) -> None:
    """One ``--flag`` per :class:`grm.config.JudgeConfig` field (help from its docstring)."""
    group = p.add_argument_group("judge config (grm.JudgeConfig; unset flags keep its defaults)")
    add_config_args(group, JudgeConfig, skip=skip, choices=REGISTRY_CHOICES)


def add_meta_args(p: argparse.ArgumentParser) -> None:
    """Meta-RM guided voting (DeepSeek-GRM), for sub-commands that compare pairs; the number
    of chains kept is the config's ``--k-meta``."""
    p.add_argument(
        "--meta-rm",
        default=None,
        metavar="DIR",
        help="meta RM (from grm train-meta): vote over the chains it rates best",
    )


def add_parser(sub: Any) -> None:
    p = sub.add_parser("judge", help="judge one prompt and its responses")
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--example",
        action="store_true",
        help=f"judge the bundled example, with the bundled judge {EXAMPLE_JUDGE} unless "
        "--model is given",
    )
    src.add_argument("--input", help="JSON file with prompt, responses[, reference]; - for stdin")
    src.add_argument("--prompt", help="the user prompt")
    p.add_argument("-r", "--response", action="append", default=[], help="a response (repeat)")
    p.add_argument("--reference", default=None, help="a reference answer for the judge")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--chains", action="store_true", help="also print each chain")
    add_model_args(p)
    add_meta_args(p)
    add_judge_config_args(p)
    p.set_defaults(func=run)


def load_item(args: argparse.Namespace) -> dict[str, Any]:
    if args.example:
        text = resources.files("grm").joinpath("data/example.json").read_text()
        return dict(json.loads(text))
    if args.input:
        raw = sys.stdin.read() if args.input == "-" else Path(args.input).read_text()
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"--input is not valid JSON ({exc}); pass an object with 'prompt' and 'responses'."
            ) from None
        if not isinstance(item, dict):
            raise ValueError("--input must hold a JSON object with 'prompt' and 'responses'.")
        return item
    if args.prompt is None:
        raise ValueError("give --prompt with --response twice, --input FILE, or --example.")
    return {"prompt": args.prompt, "responses": args.response, "reference": args.reference}


def model_for(args: argparse.Namespace) -> str | None:
    """The model to load: ``--model``; else, for ``--example``, the bundled judge it is
    decided by (when this install has it); else None, the embedded default."""
    if args.model is not None:
        return str(args.model)
    if args.example and EXAMPLE_JUDGE in judge_names():
        return EXAMPLE_JUDGE
    return None


def job_chains(args: argparse.Namespace) -> int:
    """The most chains this one judgement can take: ``--k`` (JudgeConfig's default when not
    given), ``--max-k`` for ``--k auto``."""
    k = getattr(args, "k", JudgeConfig.k)
    if k == "auto":
        return int(getattr(args, "max_k", JudgeConfig.max_k))
    return int(k)


def run(args: argparse.Namespace) -> int:
    item = load_item(args)
    model = model_for(args)
    responses = item.get("responses")
    if not isinstance(responses, list) or not responses:
        raise ValueError("responses must be a non-empty list (use --response twice).")
    from grm import RewardModel

    start = time.perf_counter()
    pointwise = len(responses) != 2 or (
        args.template is not None and get_template(args.template).kind == "pointwise"
    )
    if pointwise and args.meta_rm:
        raise ValueError(
            "--meta-rm rates pairwise verdicts; pass exactly two responses with a pairwise "
            "template, or drop --meta-rm."
        )
    rm = RewardModel.load(
        model,
        engine=args.engine,
        template=None if pointwise else args.template,
        pointwise_template=args.template if pointwise else None,
        engine_options=engine_options(args.engine_option),
        meta_rm=args.meta_rm,
        job_chains=job_chains(args),
        **config_overrides(args, JudgeConfig),
    )
    load_s = time.perf_counter() - start
    if pointwise:
        result = rm.score(item["prompt"], responses, reference=item.get("reference"))
    else:
        result = rm.compare(
            item["prompt"], responses[0], responses[1], reference=item.get("reference")
        )
    out = result.summary()
    out["load_seconds"] = round(load_s, 2)
    out["engine"] = rm.engine.name
    out["model"] = model or EMBEDDED
    if args.json:
        if args.chains:
            out["chains"] = [chain_dict(c) for c in result.chains]
        print(json.dumps(out, indent=2))
        return 0
    if args.chains:
        for i, c in enumerate(result.chains):
            meta = "" if c.meta_score is None else f" meta={c.meta_score:.2f}"
            print(f"--- chain {i} order={c.order} forced={c.forced}{meta}\n{c.text}\n")
    votes = " / ".join(f"{chr(65 + i)}:{v}" for i, v in enumerate(result.votes))
    print(f"verdict: {result.label}")
    if result.probability is not None:
        print(f"probability: {result.probability:.3f}")
    if result.scores is not None:
        print("scores: " + ", ".join(f"{s:.2f}" for s in result.scores))
    print(
        f"votes: {votes}  ties: {result.ties}  abstentions: {result.abstentions}  "
        f"forced: {result.forced}"
    )
    if result.stopped_by is not None:
        print(
            f"k used: {result.k_used} of max {rm.config.max_k} (stopped by {result.stopped_by}, "
            f"{result.k_saved} saved)"
        )
    else:
        print(f"k used: {result.k_used}")
    if result.k_meta is not None:
        kept = ", ".join(str(i) for i in result.meta_kept)
        print(f"meta RM: voted over {result.k_meta} of {result.k_used} chains (kept: {kept})")
    if result.position_consistency is not None:
        print(
            f"position consistency: {result.position_consistency:.2f}  "
            f"first-slot rate: {result.first_slot_rate:.2f}"
        )
    if result.budget_hits:
        print(f"thinking budget hit: {result.budget_hits} of {result.k_used} chains")
    if result.feedback:
        print(f"feedback: {result.feedback}")
    print(f"tokens: {result.prompt_tokens} prompt + {result.completion_tokens} completion")
    print(
        f"time: {result.seconds:.1f} s judging, {load_s:.1f} s loading "
        f"({model or EMBEDDED}, {rm.engine.name})"
    )
    return 0
