"""Rejection-sampling fine-tuning (RFT): the judge trains on its own right chains, in rounds.

The first stage of DeepSeek-GRM's recipe (Liu et al. 2025, "Inference-Time Scaling for
Generalist Reward Modeling", rejective fine-tuning) and the expert iteration of STaR
(Zelikman et al. 2022) and ReST-EM (Singh et al. 2023). Each round:

1. sample ``k`` chains per training pair with grm's own judging path (vLLM by default),
   position-balanced, so half the chains see each response order;
2. keep the chains whose own verdict is right (a forced verdict is not the chain's own and
   is never kept); optionally only pairs whose two orders agree (J1's swap consistency);
3. drop pairs whose chains are all right (no signal: DeepSeek-GRM drops them too) — pairs
   whose chains are all wrong have nothing to keep;
4. keep at most ``per_order`` right chains per response order of a pair, so the data stays
   position-balanced and easy pairs do not outweigh hard ones;
5. optionally (``sft_mix``) mix in rule-rationale SFT rows of the round's own pairs, a
   replay anchor: at ~60% chain accuracy on a two-way verdict many right verdicts are
   guesses, and their chains teach wrong reasoning (measured: docs/benchmarks.md,
   "Training stages");
6. fine-tune (TRL's ``SFTTrainer``, LoRA when ``lora_r`` > 0, merged after) on what is
   kept, and start the next round from the new judge, on fresh pairs.

Departures from the papers: the pairs are fresh each round (ReST-EM reuses one prompt set);
the fine-tune continues from the previous round rather than restarting from the warm start
(cheaper on a CPU; ``from_start: true`` restarts as ReST-EM does).

Each round is resumable: its chains (``samples.jsonl``), the kept rows, the merged judge and
``round.json`` (pairs sampled, kept rate, chain accuracy on the sampled pairs, wall time) go
to ``output_dir/rft/round-<r>/``; a finished round is skipped when the command runs again.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from grm.training.config import RFTConfig, TrainConfig
from grm.training.rft_sample import sample_pairs
from grm.training.rft_select import (
    SampledChain,
    is_right,
    mix_rows,
    references,
    rejected_for,
    round_log,
    select_chains,
)
from grm.training.rft_train import fine_tune, rft_args
from grm.training.tasks import TaskRow

logger = logging.getLogger(__name__)


def round_data(
    cfg: TrainConfig, rft: RFTConfig, kept: Sequence[TaskRow], sampled: Sequence[TaskRow], r: int
) -> tuple[list[dict[str, Any]], int]:
    """A round's fine-tune rows, shuffled: the kept chains, and ``sft_mix`` rationale rows
    per kept chain drawn from the round's ``sampled`` pairs (for ``cfg.data``'s pairs, which
    have no facts to reason from, the chains ``cfg.preference_chains`` names); and how many
    rationale rows were mixed in (fewer than the pairs drawn where ``"rule"`` has no chain
    for a pair: the rule disagrees with its label). With ``rft.control`` the rows are
    instead as many rationale rows as chains were kept, both orders of pairs drawn at random
    from ``sampled``: the same source and size without the round's selection."""
    from grm.training.data import sft_rows

    seed = rft.seed + r
    chains = cfg.chain_kind
    if rft.control:  # the round's rows without its selection: rule chains of random pairs
        pairs = mix_rows(sampled, (len(kept) + 1) // 2, seed)
        rows = sft_rows(pairs, cfg.template, True, seed, preference_chains=chains)[: len(kept)]
        random.Random(seed).shuffle(rows)
        return rows, len(rows)
    data = sft_rows(kept, cfg.template, seed=seed)
    mix = mix_rows(sampled, round(rft.sft_mix * len(kept)), seed)
    mixed = sft_rows(mix, cfg.template, seed=seed, preference_chains=chains)
    data += mixed
    random.Random(seed).shuffle(data)
    return data, len(mixed)


# --- rounds ------------------------------------------------------------------------------------


def round_rows(cfg: Any, rft: RFTConfig, r: int) -> list[TaskRow]:
    """Round ``r``'s training pairs: fresh draws from the train split (never the held-out
    items), or from ``cfg.data``'s training split, shuffled by the round's seed."""
    from grm.training.splits import grpo_splits

    n = rft.pairs_per_round
    if cfg.data is not None:
        rows = list(grpo_splits(cfg)[0])
        random.Random(rft.seed + r).shuffle(rows)
        if len(rows) < n:
            logger.warning("only %d training pairs for a round of %d", len(rows), n)
        return rows[:n]
    from grm.training.tasks import make_tasks

    # A stream seeded apart from SFT's (its first n_train items) and GRPO's (+7919).
    stream = make_tasks(cfg.tasks, "train", cfg.n_train + 15331 + (r + 1) * n)
    return stream[-n:]


def select_round(
    cfg: Any, rft: RFTConfig, samples: Sequence[tuple[TaskRow, Sequence[SampledChain]]]
) -> tuple[list[TaskRow], dict[str, Any]]:
    """The kept chains of a round's samples, as rows, and the round's :func:`round_log`; for
    a dpo round only the kept chains with a rejected chain, which each row carries."""
    kept_rows: list[TaskRow] = []
    pairs_kept = 0
    verified = 0
    for row, pair_chains in samples:
        reference = references(cfg, row, pair_chains)
        verified += sum(is_right(c, row["preferred"], reference) for c in pair_chains)
        kept = select_chains(
            pair_chains,
            row["preferred"],
            rft.per_order,
            rft.agree_orders,
            rft.drop_all_right,
            reference if rft.verify else None,
        )
        if rft.objective == "dpo":
            pairs = rejected_for(
                pair_chains, kept, row["preferred"], reference if rft.verify else None
            )
            kept_rows += [
                {**row, "chain": a.text, "order": list(a.order), "rejected": b.text}
                for a, b in pairs
            ]
            pairs_kept += bool(pairs)
        else:
            kept_rows += [{**row, "chain": c.text, "order": list(c.order)} for c in kept]
            pairs_kept += bool(kept)
    return kept_rows, round_log(samples, len(kept_rows), pairs_kept, verified)


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _read_samples(path: Path) -> list[tuple[TaskRow, list[SampledChain]]]:
    out = []
    with path.open() as f:
        for line in f:
            rec = json.loads(line)
            chains = [
                SampledChain(tuple(c["order"]), c["text"], c["winner"]) for c in rec["chains"]
            ]
            out.append((rec["row"], chains))
    return out


def run_round(
    cfg: Any, rft: RFTConfig, r: int, model: str, out: Path, train_from: str | None = None
) -> dict[str, Any]:
    """Sample with the judge at ``model``, filter, and fine-tune ``train_from`` (default
    ``model``) once; the merged judge goes to ``out/model``."""

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    samples_path = out / "samples.jsonl"
    reused = samples_path.is_file()
    if reused:
        samples = _read_samples(samples_path)
        sample_s = json.loads((out / "sampling.json").read_text())["seconds"]
        logger.info("RFT round %d: reusing %d sampled pairs", r, len(samples))
    else:
        rows = round_rows(cfg, rft, r)
        chains = sample_pairs(
            model,
            rows,
            rft.k,
            rft.max_tokens,
            rft.temperature,
            cfg.template,
            rft.engine,
            rft.engine_options,
        )
        samples = list(zip(rows, chains, strict=True))
        sample_s = time.perf_counter() - t0
        tmp = samples_path.with_suffix(".tmp")
        _write_jsonl(
            tmp,
            [{"row": row, "chains": [asdict(c) for c in cs]} for row, cs in samples],
        )
        tmp.rename(samples_path)  # written whole or not at all: a resume never reads half
        (out / "sampling.json").write_text(json.dumps({"seconds": sample_s}))
    kept_rows, counts = select_round(cfg, rft, samples)
    log = {"round": r, "start_model": model, **counts}
    log["sampling_seconds"] = sample_s
    logger.info("RFT round %d: %s", r, json.dumps(log))
    if not kept_rows:
        raise ValueError(
            f"RFT round {r} kept no chains ({log['pairs']} pairs, chain accuracy "
            f"{log['chain_accuracy']:.1%}); sample more pairs or raise rft.k."
        )
    if rft.max_kept and len(kept_rows) > rft.max_kept:
        kept_rows = random.Random(rft.seed + r).sample(kept_rows, rft.max_kept)
    log["trained_chains"] = len(kept_rows)
    t1 = time.perf_counter()
    trainer_cls: Any
    if rft.objective == "dpo":
        from grm.training.rft_dpo import dpo_args, dpo_rows
        from trl import DPOTrainer

        data, log["sft_mix_rows"] = dpo_rows(kept_rows, cfg.template), 0
        args, trainer_cls = dpo_args(cfg, r, out / "checkpoints"), DPOTrainer
    else:
        from trl import SFTTrainer

        trainer_cls = SFTTrainer
        samples_rows = [row for row, _ in samples]
        data, log["sft_mix_rows"] = round_data(cfg, rft, kept_rows, samples_rows, r)
        args = rft_args(cfg, r, out / "checkpoints")
    _write_jsonl(out / "kept.jsonl", data)
    fine_tune(cfg, r, train_from or model, data, out, trainer_cls, args)
    log["train_seconds"] = time.perf_counter() - t1
    # t0 is before sampling, so a reused sample's time is the only one to add.
    log["seconds"] = (time.perf_counter() - t0) + (sample_s if reused else 0.0)
    (out / "round.json").write_text(json.dumps(log, indent=2))
    return log


def run_rft(cfg: Any, model_path: str | None = None, out: Path | None = None) -> Path:
    """Every round of ``cfg.rft`` from ``model_path`` (default ``cfg.model``); the last
    round's judge is copied to ``out`` (default ``cfg.output_dir``)."""
    from grm.training.common import resolve_model

    rft: RFTConfig = cfg.rft
    start = resolve_model(model_path or cfg.model)
    root = Path(cfg.output_dir) / "rft"
    model = start
    for r in range(rft.rounds):
        rdir = root / f"round-{r}"
        if (rdir / "round.json").is_file() and (rdir / "model" / "config.json").is_file():
            logger.info("RFT round %d already done: %s", r, rdir / "model")
        else:
            run_round(cfg, rft, r, model, rdir, start if rft.from_start else None)
        model = str(rdir / "model")
    dest = out or Path(cfg.output_dir)
    dest.mkdir(parents=True, exist_ok=True)
    for item in Path(model).iterdir():
        target = dest / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    logger.info("RFT: %d rounds; the judge is at %s", rft.rounds, dest)
    return dest


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m grm.training.rft CONFIG``: a finished round's counts again from its stored
    chains (``samples.jsonl``), under the config's rules (``--verify``: with ``rft.verify``
    on), with no sampling or training."""
    import argparse

    from grm.training.config import TrainConfig

    p = argparse.ArgumentParser(prog="python -m grm.training.rft", description=main.__doc__)
    p.add_argument("config", help="the YAML the round ran with")
    p.add_argument("--round", type=int, default=0, help="round number (default 0)")
    p.add_argument("--verify", action="store_true", help="count with rft.verify on")
    p.add_argument("--record", help="also write the counts to docs/records/NAME.json")
    args = p.parse_args(argv)
    cfg = TrainConfig.from_yaml(args.config)
    rft = cfg.rft if not args.verify else replace(cfg.rft, verify=True)
    path = Path(cfg.output_dir) / "rft" / f"round-{args.round}" / "samples.jsonl"
    if not path.is_file():
        raise SystemExit(f"no stored chains at {path}: run the round first (grm train CONFIG).")
    _, counts = select_round(cfg, rft, _read_samples(path))
    print(json.dumps(counts, indent=2))
    if args.record:
        from grm.benchmarks.record import Run

        run = Run(args.record, "rft_round", vars(args))
        run.figures["counts"] = {
            **counts,
            "verify": rft.verify,
            "agree_orders": rft.agree_orders,
            "objective": rft.objective,
            "control": rft.control,
        }
        done = path.parent / "round.json"
        # what the round logged when it ran (timings, trained rows), if these are its rules
        same = done.is_file() and rft == cfg.rft
        run.figures["round"] = json.loads(done.read_text()) if same else None
        print(f"record: {run.save()}")


if __name__ == "__main__":
    main()
