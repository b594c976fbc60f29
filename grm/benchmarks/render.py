"""Render the tables of a Markdown document from run records, or check that they match.

A region of the document between

    <!-- record: NAME[,NAME...] VIEW -->
    ...
    <!-- /record -->

is replaced by the table the view ``VIEW`` makes from the records ``docs/records/NAME.json``;
everything outside the regions (the prose, other sections) is left as it is. A table outside
every region must say where its figures come from: a line above it (within three lines)
containing ``raw output not kept`` (figures typed from a run's output before records
existed) or ``not rendered``.

    python -m grm.benchmarks.render docs/benchmarks.md           # rewrite the regions
    python -m grm.benchmarks.render docs/benchmarks.md --check   # exit 1 if they differ

>>> doc = "a\\n<!-- record: x t -->\\nold\\n<!-- /record -->\\nb\\n"
>>> print(render_text(doc, lambda names, view: f"{view} of {'+'.join(names)}"))
a
<!-- record: x t -->
t of x
<!-- /record -->
b
<BLANKLINE>
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grm.benchmarks import record as rec
from grm.benchmarks.scaling_report import ci, curve_table, transfer_table

REGION = re.compile(
    r"(?P<open><!-- record: (?P<names>[\w.,+-]+) (?P<view>\w+) -->\n)"
    r"(?P<body>.*?)(?P<close><!-- /record -->)",
    re.S,
)
NOTES = ("raw output not kept", "not rendered")


def _suite(record: dict[str, Any]) -> dict[str, Any]:
    """A ``bench_scaling`` record's (first) judge's figures on the suite."""
    return next(iter(record["report"].values()))["suite"]


def view_curve(records: list[dict[str, Any]]) -> str:
    """Accuracy versus k of a ``bench_scaling`` record's (first) judge on the suite."""
    return curve_table(_suite(records[0]))


def view_points(records: list[dict[str, Any]]) -> str:
    """k=1 and per-chain accuracy of several ``bench_scaling`` records, one row each (the
    checkpoints of a run: a learning curve)."""
    lines = ["| record | judge | n | k=1 | chain acc. | error corr. |", "|---|---|---|---|---|---|"]
    for r in records:
        judge, s = next(iter(r["report"])), _suite(r)
        c = s["chains"]
        lines.append(
            f"| {r['name']} | {judge} | {s['n']} | {ci(s['overall']['points'][0])} "
            f"| {100 * c['chain_accuracy']:.1f} | {c['error_correlation']:.2f} |"
        )
    return "\n".join(lines)


def view_transfer(records: list[dict[str, Any]]) -> str:
    """Adaptive k chosen on the first ``bench_scaling`` record's pairs, checked on the
    others' (the same judge on disjoint sets)."""
    return transfer_table(*(_suite(r) for r in records))


def view_compare(records: list[dict[str, Any]]) -> str:
    """Paired differences of ``compare_judges`` records, one row each."""
    ks = [r["k"] for r in records[0]["figures"]["rows"]]
    lines = ["| comparison | " + " | ".join(f"k={k}" for k in ks) + " |"]
    lines.append("|---" * (len(ks) + 1) + "|")
    for r in records:
        cells = [ci(row, "diff", sign=True) for row in r["figures"]["rows"]]
        lines.append(f"| {r['args']['title']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def view_serve(records: list[dict[str, Any]]) -> str:
    """Offline ``compare_batch`` against the served engine (``bench_serve``)."""
    r = records[0]["figures"]
    off, srv = r["offline"], r["served"]
    codes = ", ".join(f"{n} x {c}" for c, n in srv["codes"].items())
    lost = "none lost" if srv["codes"].get("-1", 0) == 0 else f"{srv['codes']['-1']} lost"
    return "\n".join(
        [
            "| | offline `compare_batch` | served, 32 clients | ratio (goal) |",
            "|---|---|---|---|",
            f"| throughput | {off['rps']:.2f} req/s ({off['judged']} in {off['batch_s']:.1f} s) "
            f"| {srv['rps']:.2f} req/s ({r['requests']} in {srv['wall_s']:.1f} s) "
            f"| {r['throughput_ratio']:.2f} (>= 0.9) |",
            f"| lone request | {off['lone_s']:.2f} s (direct Python call) "
            f"| {srv['lone_s']:.2f} s (HTTP) | {r['lone_ratio']:.2f} (<= 1.2) |",
            f"| served latency | | p50 {srv['p50_s']:.1f} s, p99 {srv['p99_s']:.1f} s | |",
            f"| answers | {off['judged']} | {codes}, {lost} | |",
        ]
    )


def view_adaptive(records: list[dict[str, Any]]) -> str:
    """Fixed k, a real ``k="auto"`` run and replayed rules (``bench_adaptive``)."""
    from grm.benchmarks.adaptive_report import table

    return table(records[0]["figures"])


def view_heldout(records: list[dict[str, Any]]) -> str:
    """Held-out accuracy before and after training (``train_user_data``)."""
    from grm.benchmarks.heldout import before_after_table

    r = records[0]
    return before_after_table(r["figures"], r["args"]["heldout_ks"], r["args"]["rows"])


def view_ranking(records: list[dict[str, Any]]) -> str:
    """Ranking methods side by side (``bench_ranking``)."""
    from grm.benchmarks.ranking import table

    return table(records[0]["rows"])


def view_tip_budget(records: list[dict[str, Any]]) -> str:
    """Thinking budget and TIP side by side (``bench_tip_budget``)."""
    from grm.benchmarks.tip_budget import table

    return table(records[0]["report"])


def view_scalar_rm(records: list[dict[str, Any]]) -> str:
    """The scalar Bradley-Terry baseline's held-out accuracy, one row per record
    (``python -m grm.training.scalar_rm eval ... --record NAME``)."""
    lines = ["| record | pairs | accuracy | seconds per pair |", "|---|---|---|---|"]
    for r in records:
        acc = r["figures"]["accuracy"]
        cell = f"{100 * acc['mean']:.1f} [{100 * acc['low']:.1f}, {100 * acc['high']:.1f}]"
        lines.append(
            f"| {r['name']} | {acc['n']} | {cell} | {r['figures']['seconds_per_pair']:.3f} |"
        )
    return "\n".join(lines)


def view_rounds(records: list[dict[str, Any]]) -> str:
    """Rejection-sampling rounds, one row per record (``python -m grm.training.rft CONFIG
    --record NAME``): the counts under the record's rules, and the round's own timings."""
    lines = [
        "| record | rule | pairs | chains | chain acc. | verified | pairs kept | kept | trained "
        "| sampling min | fine-tune min |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        c, done = r["figures"]["counts"], r["figures"].get("round") or {}
        rule = "verified" if c["verify"] else "verdict"
        rule += (", both orders" if c.get("agree_orders") else "") + f", {c['objective']}"
        rule += " (control: random pairs' rule chains)" if c.get("control") else ""
        # a round logged before trained_chains existed trained on every kept chain
        trained = done.get("trained_chains", c["kept_chains"]) if done else "-"
        minutes = [
            f"{done[k] / 60:.1f}" if k in done else "-"
            for k in ("sampling_seconds", "train_seconds")
        ]
        lines.append(
            f"| {r['name']} | {rule} | {c['pairs']} | {c['chains']} | "
            f"{100 * c['chain_accuracy']:.1f}% | {100 * c['verified_accuracy']:.1f}% | "
            f"{c['pairs_kept']} | {c['kept_chains']} | {trained} | "
            f"{minutes[0]} | {minutes[1]} |"
        )
    return "\n".join(lines)


def view_judges(records: list[dict[str, Any]]) -> str:
    """Several judges on one held-out split with paired differences (``eval_heldout``)."""
    from grm.benchmarks.heldout import judges_table

    r = records[0]
    return judges_table(r["figures"], r["args"]["k"])


def view_verl_loop(records: list[dict[str, Any]]) -> str:
    """verl's reward-loop path against grm serve (``grm.benchmarks.verl_loop``)."""
    from grm.benchmarks.verl_loop import table

    return table(records[0]["figures"])


def view_engine_pick(records: list[dict[str, Any]]) -> str:
    """The main job on each engine and k (``grm.benchmarks.engine_pick``)."""
    from grm.benchmarks.engine_pick import table

    return table(records[0]["figures"])


def view_rules(records: list[dict[str, Any]]) -> str:
    """Lexical rules on a preference split and judges' agreement (``cue_rules``)."""
    from grm.benchmarks.cue_rules import table

    return table(records[0]["figures"])


def view_cpu_dtype(records: list[dict[str, Any]]) -> str:
    """vLLM-CPU's sampling rate per dtype (``grm.benchmarks.cpu_dtype``)."""
    from grm.benchmarks.cpu_dtype import table

    return table(records[0]["figures"])


def view_vote_prior(records: list[dict[str, Any]]) -> str:
    """The vote priors ``replay_adaptive.py --prior-from`` fitted, one row per record."""
    from grm.benchmarks.replay import prior_table

    return prior_table({r["name"]: r["figures"]["vote_prior"] for r in records})


def view_auto_run(records: list[dict[str, Any]]) -> str:
    """The real ``k="auto"`` run of ``bench_scaling.py --auto-rule`` records, one row each,
    beside the same judge's fixed ``k = max_k`` on the same pairs (two independent samples)."""
    k = _suite(records[0])["overall"]["points"][-1]["k"]
    lines = [
        f"| record | judge | n | k={k} fixed | rule | wave | confidence | k=auto | minus k={k} "
        "| chains | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        judge, s = next(iter(r["report"])), _suite(r)
        a = s["auto_run"]
        # a record from before the paired difference was kept has none
        diff = ci(a["minus_max_k"], "diff", sign=True) if "minus_max_k" in a else "-"
        lines.append(
            f"| {r['name']} | {judge} | {s['n']} | {ci(s['overall']['points'][-1])} "
            f"| {a['rule']} | {a['wave_size']} | {a['confidence']} | {ci(a)} "
            f"| {diff} | {100 * a['share']:.0f}% "
            f"| {a['seconds']:.0f} |"
        )
    return "\n".join(lines)


def view_train_steps(records: list[dict[str, Any]], every: int = 4) -> str:
    """A training run's steps (``python -m grm.benchmarks.train_log``), means over blocks of
    ``every`` steps, one block per row."""
    from grm.benchmarks.train_log import blocks

    lines = [
        "| record | steps | reward | train-pair accuracy | groups with no spread "
        "| token entropy | chain tokens | seconds a step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        steps = r["figures"]["steps"]
        of = steps[0].get("accuracy_of", "verdict")
        for b in blocks(steps, every):
            lines.append(
                f"| {r['name']} | {b['steps']} | {b['reward']:+.2f} | "
                f"{100 * b['accuracy']:.1f}% ({of}) | {100 * b['zero_std']:.0f}% | "
                f"{b['entropy']:.3f} | {b['chain_tokens']:.0f} | {b['seconds']:.0f} |"
            )
    return "\n".join(lines)


VIEWS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "curve": view_curve,
    "transfer": view_transfer,
    "points": view_points,
    "compare": view_compare,
    "serve": view_serve,
    "adaptive": view_adaptive,
    "heldout": view_heldout,
    "ranking": view_ranking,
    "tip_budget": view_tip_budget,
    "scalar_rm": view_scalar_rm,
    "rounds": view_rounds,
    "judges": view_judges,
    "verl_loop": view_verl_loop,
    "engine_pick": view_engine_pick,
    "rules": view_rules,
    "cpu_dtype": view_cpu_dtype,
    "vote_prior": view_vote_prior,
    "auto_run": view_auto_run,
    "train_steps": view_train_steps,
}
"""Table views by name (the ``VIEW`` of a region's marker)."""


def from_records(records_dir: Path) -> Callable[[list[str], str], str]:
    """A region renderer reading ``records_dir/NAME.json``."""

    def render(names: list[str], view: str) -> str:
        if view not in VIEWS:
            raise ValueError(f"unknown record view {view!r}; choose from {sorted(VIEWS)}.")
        return VIEWS[view]([rec.load(records_dir / f"{n}.json") for n in names])

    return render


def render_text(text: str, render: Callable[[list[str], str], str]) -> str:
    """``text`` with every record region's body replaced by ``render(names, view)``."""

    def sub(m: re.Match[str]) -> str:
        body = render(m["names"].split(","), m["view"]).rstrip("\n")
        return f"{m['open']}{body}\n{m['close']}"

    return REGION.sub(sub, text)


def unmarked_tables(text: str) -> list[int]:
    """Line numbers (1-based) of tables outside every region with no note above them."""
    inside: set[int] = set()
    for m in REGION.finditer(text):
        first = text.count("\n", 0, m.start()) + 1
        inside.update(range(first, first + m.group(0).count("\n") + 1))
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines, 1):
        starts = line.startswith("|") and (i == 1 or not lines[i - 2].startswith("|"))
        if starts and i not in inside:
            above = " ".join(lines[max(0, i - 4) : i - 1])
            if not any(note in above for note in NOTES):
                found.append(i)
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("document", help="a Markdown file, e.g. docs/benchmarks.md")
    p.add_argument("--records", default=str(rec.RECORDS), help="the records folder")
    p.add_argument("--check", action="store_true", help="exit 1 if the document differs")
    args = p.parse_args(argv)
    path = Path(args.document)
    text = path.read_text()
    new = render_text(text, from_records(Path(args.records)))
    unmarked = unmarked_tables(new)
    for line in unmarked:
        print(f"{path}:{line}: a table with no record region and no note", file=sys.stderr)
    if args.check:
        if new != text:
            print(f"{path} differs from its records: run python -m grm.benchmarks.render {path}")
        return 1 if new != text or unmarked else 0
    if new != text:
        path.write_text(new)
    return 1 if unmarked else 0


if __name__ == "__main__":
    sys.exit(main())
