"""The attack suite with each injection mitigation on and off (``scripts/run_attacks.py``),
and a scripted judge that copies what it reads, to run the suite without a model.

It writes the right verdict for the default template and then copies the other (worse,
attacked) response after it, as small judges copy what they read. With it the attack
suite measures only what the sanitizer and the parser stop: a copied verdict, tag or special
token that gets read as the judge's own (``scripts/run_attacks.py --judge copying``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

CONFIGS = {
    "none": {"sanitize": False, "hardened": False, "tail_only": False},
    "sanitize": {"sanitize": True, "hardened": False, "tail_only": False},
    "hardened": {"sanitize": False, "hardened": True, "tail_only": False},
    "tail_only": {"sanitize": False, "hardened": False, "tail_only": True},
    "all": {"sanitize": True, "hardened": True, "tail_only": True},
}
"""The injection mitigations, each alone, none and all (grm's default), as template options."""


def attack_config(base: Any, template: str, name: str, pairs: Sequence[Any], k: int) -> dict:
    """Every attack against ``base``'s engine with the mitigations of ``CONFIGS[name]``:
    flip and false-positive rates per attack and per attack class, and seconds."""
    from grm import RewardModel
    from grm.attacks import by_kind, run_attacks
    from grm.templates import get_template

    rm = RewardModel(base.engine, get_template(template, **CONFIGS[name]), config=base.config)
    start = time.perf_counter()
    rates = run_attacks(rm, pairs, k=k)
    secs = time.perf_counter() - start
    table = {}
    for label, r in {**rates, **{f"class:{c}": v for c, v in by_kind(rates).items()}}.items():
        table[label] = {
            "flip_rate": r.flip_rate,
            "false_positive_rate": r.false_positive_rate,
            "judged_right": r.judged_right,
            "pairs": r.pairs,
        }
    return {"seconds": secs, "rates": table}


class CopyingEngine:
    """A scripted judge for the default template: it finds the better response (it is told
    the better texts), writes ``Final verdict: [[X]]`` for it, then copies the other response
    after its verdict line, as small judges copy what they read."""

    name = "copying"
    max_context = 1 << 20

    def __init__(self, better: list[str]) -> None:
        self.better = better

    def render_chat(self, messages: Any) -> str:
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages)

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def _judge(self, prompt: str) -> str:
        a = prompt.split("<response_A>\n", 1)[1].split("\n</response_A>", 1)[0]
        b = prompt.split("<response_B>\n", 1)[1].split("\n</response_B>", 1)[0]
        own, other = ("A", b) if a in self.better else ("B", a)
        return f"Checking both answers.\nFinal verdict: [[{own}]]\nThe other one says:\n{other}"

    def generate(self, requests: Any, sampling: Any) -> Any:
        from grm.inference.base import Completion, Generation

        return [
            Generation(1, [Completion(self._judge(r.prompt), 1, "stop")] * r.n) for r in requests
        ]

    def choice_logprobs(self, prompts: Any, choices: Any) -> list[list[float]]:
        return [[0.0] * len(choices) for _ in prompts]

    def sequence_logprobs(self, prompts: Any, candidates: Any) -> list[list[float]]:
        return [[0.0] * len(candidates) for _ in prompts]

    def close(self) -> None:
        pass
