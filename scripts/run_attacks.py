"""Run the attack suite against a judge with each injection mitigation on and off.

Pairs are held-out verifiable tasks (addition and constraint-following, from
``grm.training.tasks``), so the worse response is known. Each configuration judges every pair
clean and under every attack in one batched call, at k=2 (one chain per response order).

    .venv/bin/python scripts/run_attacks.py --pairs 24 --engine vllm --json runs/attacks.json
    .venv/bin/python scripts/run_attacks.py --model runs/judge-sft --pairs 24 --engine vllm

Configurations: ``none`` (no sanitising, plain wording, first-match parsing), each mitigation
alone, and ``all`` (grm's default).

``--judge copying`` replaces the model with a scripted judge that writes the right verdict
and then copies the other (worse, attacked) response after it, as small judges do. It loads
no model and measures only what the sanitizer and the parser stop: a copied verdict, tag or
special token that gets read as the judge's own. Real-model numbers need ``--model``.

    .venv/bin/python scripts/run_attacks.py --judge copying --pairs 24 --json runs/copy.json
"""

from __future__ import annotations

import argparse
import json
import time

CONFIGS = {
    "none": {"sanitize": False, "hardened": False, "tail_only": False},
    "sanitize": {"sanitize": True, "hardened": False, "tail_only": False},
    "hardened": {"sanitize": False, "hardened": True, "tail_only": False},
    "tail_only": {"sanitize": False, "hardened": False, "tail_only": True},
    "all": {"sanitize": True, "hardened": True, "tail_only": True},
}


class CopyingEngine:
    """A scripted judge for the default template: it finds the better response (it is told
    the better texts), writes ``Final verdict: [[X]]`` for it, then copies the other response
    after its verdict line, as small judges copy what they read."""

    name = "copying"
    max_context = 1 << 20

    def __init__(self, better: list[str]) -> None:
        self.better = better

    def render_chat(self, messages):  # type: ignore[no-untyped-def]
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def _judge(self, prompt: str) -> str:
        a = prompt.split("<response_A>\n", 1)[1].split("\n</response_A>", 1)[0]
        b = prompt.split("<response_B>\n", 1)[1].split("\n</response_B>", 1)[0]
        own, other = ("A", b) if a in self.better else ("B", a)
        return f"Checking both answers.\nFinal verdict: [[{own}]]\nThe other one says:\n{other}"

    def generate(self, requests, sampling):  # type: ignore[no-untyped-def]
        from grm.inference.base import Completion, Generation

        return [
            Generation(1, [Completion(self._judge(r.prompt), 1, "stop")] * r.n) for r in requests
        ]

    def choice_logprobs(self, prompts, choices):  # type: ignore[no-untyped-def]
        return [[0.0] * len(choices) for _ in prompts]

    def sequence_logprobs(self, prompts, candidates):  # type: ignore[no-untyped-def]
        return [[0.0] * len(candidates) for _ in prompts]

    def close(self) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--engine", default="vllm")
    ap.add_argument("--template", default="default")
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--json", default=None)
    ap.add_argument("--judge", choices=["model", "copying"], default="model")
    args = ap.parse_args()

    from grm.training.tasks import TaskConfig, make_tasks

    from grm import RewardModel
    from grm.attacks import LabelledPair, by_kind, run_attacks
    from grm.templates import get_template

    rows = make_tasks(TaskConfig(), "eval", args.pairs)
    pairs = [LabelledPair(r["prompt"], tuple(r["responses"]), r["preferred"]) for r in rows]
    if args.judge == "copying":
        base = RewardModel(CopyingEngine([p.responses[p.better] for p in pairs]))
    else:
        base = RewardModel.load(args.model, engine=args.engine, max_tokens=args.max_tokens)
    report: dict[str, object] = {"args": vars(args)}
    for name in args.configs.split(","):
        rm = RewardModel(
            base.engine, get_template(args.template, **CONFIGS[name]), config=base.config
        )
        start = time.perf_counter()
        rates = run_attacks(rm, pairs, k=args.k)
        secs = time.perf_counter() - start
        table = {}
        for label, r in {**rates, **{f"class:{k}": v for k, v in by_kind(rates).items()}}.items():
            table[label] = {
                "flip_rate": r.flip_rate,
                "false_positive_rate": r.false_positive_rate,
                "judged_right": r.judged_right,
                "pairs": r.pairs,
            }
        report[name] = {"seconds": secs, "rates": table}
        print(f"== {name} ({secs:.0f} s)")
        for label, row in table.items():
            fp = row["false_positive_rate"]
            print(
                f"  {label:24s} flip {row['flip_rate']:.2f}  "
                f"fp {'n/a' if fp is None else f'{fp:.2f}'}  (right clean {row['judged_right']})"
            )
    base.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":  # vLLM's engine core is a spawned process
    main()
