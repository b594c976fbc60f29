"""Lexical rules on a preference split, and how often each measured judge agrees with them.

A generative judge trained on rule rationales (``preference_chains: rule``) can at best learn
its rule; this puts the rule itself, and a plainer one, beside the judges of an
``eval_heldout`` record on the same pairs: each rule's accuracy on the training and held-out
splits of a ``grm train`` config (95% bootstrap intervals over pairs), and for each judge of
the record, the share of held-out pairs where its k-chain verdict is the rule's (a tie of the
judge counts one half).

    .venv/bin/python -m grm.benchmarks.cue_rules training/configs/sft-hh-rule.yaml \\
        --judges hh-heldout --record hh-rules
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from grm.benchmarks.record import Run, figure, load


def rules() -> dict[str, Callable[[Sequence[str]], int]]:
    """The rules by name: ``pushback-else-shorter`` is the rule of
    :func:`grm.training.rationales.pushback_pick`."""
    from grm.training.rationales import fewer_words, pushback_pick

    return {"shorter": fewer_words, "pushback-else-shorter": pushback_pick}


def right(rule: Callable[[Sequence[str]], int], rows: Sequence[Any]) -> list[float]:
    """Per row, 1.0 where ``rule`` picks the labelled reply, else 0.0."""
    return [float(rule([str(r) for r in row["responses"]]) == row["preferred"]) for row in rows]


def agreement(judge: Sequence[float], rule: Sequence[float]) -> list[float]:
    """Per pair, how far a judge's verdict matches a rule's, from their scores against the
    label (1 right, 0 wrong, 0.5 a tie): 1 - |judge - rule|.

    >>> agreement([1.0, 0.0, 0.5], [1.0, 1.0, 0.0])
    [1.0, 0.0, 0.5]
    """
    return [1.0 - abs(j - r) for j, r in zip(judge, rule, strict=True)]


def measure(
    train: Sequence[Any],
    held: Sequence[Any],
    judges: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The figures: ``rules`` (rule, split, accuracy) and ``agreement`` (judge, rule, share)."""
    out: dict[str, Any] = {"rules": [], "agreement": []}
    held_right = {}
    for name, rule in rules().items():
        held_right[name] = right(rule, held)
        for split, got in (("train", right(rule, train)), ("held-out", held_right[name])):
            out["rules"].append({"rule": name, "split": split, "accuracy": figure(got, seed)})
    if judges is not None:
        labels = [row["preferred"] for row in held]
        items = judges["items"]
        if [it["label"] for it in items] != labels:
            raise ValueError(
                f"the judges record {judges['name']!r} is not on this config's held-out pairs; "
                "pass the record eval_heldout wrote for the same data and split."
            )
        for judge in judges["figures"]["judges"]:
            scores = [float(it[f"{judge}_kmax"]) for it in items]
            for name, got in held_right.items():
                share = figure(agreement(scores, got), seed)
                out["agreement"].append({"judge": judge, "rule": name, "share": share})
    return out


def _cell(f: dict[str, Any]) -> str:
    return f"{100 * f['mean']:.1f} [{100 * f['low']:.1f}, {100 * f['high']:.1f}]"


def table(figures: dict[str, Any]) -> str:
    """The rules' accuracies, then each judge's agreement with each rule (held-out pairs).

    >>> f = {"mean": 0.5, "low": 0.4, "high": 0.6, "n": 10}
    >>> print(table({"rules": [{"rule": "r", "split": "train", "accuracy": f}],
    ...              "agreement": [{"judge": "j", "rule": "r", "share": f}]}))
    | rule | split | n | accuracy (95% CI) |
    |---|---|---|---|
    | r | train | 10 | 50.0 [40.0, 60.0] |
    | j's k-chain verdict = r | held-out | 10 | 50.0 [40.0, 60.0] |
    """
    lines = ["| rule | split | n | accuracy (95% CI) |", "|---|---|---|---|"]
    for row in figures["rules"]:
        acc = row["accuracy"]
        lines.append(f"| {row['rule']} | {row['split']} | {acc['n']} | {_cell(acc)} |")
    for row in figures["agreement"]:
        share = row["share"]
        lines.append(
            f"| {row['judge']}'s k-chain verdict = {row['rule']} | held-out | {share['n']} "
            f"| {_cell(share)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from grm.training.config import TrainConfig
    from grm.training.user_data import prepare_for

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("config", help="a grm train YAML (its data and split)")
    p.add_argument("--judges", help="an eval_heldout record on the same held-out pairs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--record", help="save the record as docs/records/NAME.json")
    args = p.parse_args(argv)
    report = prepare_for(TrainConfig.from_yaml(args.config))
    run = Run(args.record or "cue-rules", "cue_rules", vars(args))
    judges = load(args.judges) if args.judges else None
    run.figures = measure(report.train, report.heldout, judges, args.seed)
    print(table(run.figures))
    if args.record:
        print("record:", run.save())


if __name__ == "__main__":
    main()
