"""Rejection-sampling fine-tuning: which chains a round keeps, its config, and one real round.

The selection rules are pure functions tested on small lists; the last test runs one round
end to end on the bundled SFT judge (real sampling with grm's judging path, real TRL fine-tune)
and checks what a user relies on: the round's log, a loadable judge, and a resumed command
that skips the finished round.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grm.training.config import RFTConfig, TrainConfig
from grm.training.rft_select import SampledChain, pair_stats, round_log, select_chains

AB, BA = (0, 1), (1, 0)


def chains(*spec: tuple[tuple[int, int], int | str | None]) -> list[SampledChain]:
    return [SampledChain(order, f"chain {i}", winner) for i, (order, winner) in enumerate(spec)]


def test_keeps_one_right_chain_per_order_by_default() -> None:
    cs = chains((AB, 0), (AB, 0), (BA, 0), (BA, 1), (AB, None))
    kept = select_chains(cs, preferred=0)
    assert [(c.order, c.text) for c in kept] == [(AB, "chain 0"), (BA, "chain 2")]


def test_per_order_caps_each_order_separately() -> None:
    cs = chains((AB, 0), (AB, 0), (AB, 0), (BA, 0), (BA, 1))
    assert [c.text for c in select_chains(cs, 0, per_order=2)] == ["chain 0", "chain 1", "chain 3"]


def test_all_right_pairs_are_dropped_unless_asked_to_keep_them() -> None:
    cs = chains((AB, 1), (BA, 1))
    assert select_chains(cs, 1) == []
    assert len(select_chains(cs, 1, drop_all_right=False)) == 2


def test_all_wrong_pairs_keep_nothing_and_ties_or_abstentions_are_never_right() -> None:
    assert select_chains(chains((AB, 1), (BA, "tie"), (AB, None)), 0) == []


def test_agree_orders_needs_a_right_majority_in_each_order() -> None:
    split = chains((AB, 0), (AB, 1), (BA, 0), (BA, 0))
    assert select_chains(split, 0, agree_orders=True) == []
    agree = chains((AB, 0), (AB, 0), (AB, 1), (BA, 0), (BA, 1), (BA, 0))
    assert [c.order for c in select_chains(agree, 0, agree_orders=True)] == [AB, BA]


def test_pair_stats_and_round_log_count_chains_by_order() -> None:
    cs = chains((AB, 0), (BA, 1), (BA, None))
    assert pair_stats(cs, 0) == {"right": 1, "n": 3, "by_order": {"0,1": [1, 1], "1,0": [0, 2]}}
    log = round_log([({"preferred": 0}, cs), ({"preferred": 1}, chains((AB, 1)))], 1, 1)
    assert log["chains"] == 4 and log["chain_accuracy"] == 0.5
    assert log["own_verdict_rate"] == 0.75
    assert (log["pairs_all_right"], log["pairs_none_right"], log["pairs_mixed"]) == (1, 0, 1)
    assert log["kept_rate"] == 0.25


def test_verify_keeps_only_chains_that_state_the_rules_steps() -> None:
    import random

    from grm.training.data import rule_chain, sft_rows
    from grm.training.rft import references
    from grm.training.tasks import addition_item

    row = addition_item(47, 38, random.Random(1))
    good = {o: rule_chain(row, o) for o in (AB, BA)}
    # The chain SFT trains on is the reference, so a judge that learnt SFT's steps passes.
    assert good[AB] in [r["completion"][0]["content"] for r in sft_rows([row], both_orders=True)]
    lucky = str(good[AB]).replace("= 85", "= 86", 1)  # a wrong step, the right letter
    assert lucky != good[AB] and lucky.endswith(str(good[AB])[-20:])
    pref = row["preferred"]
    cs = [
        SampledChain(AB, lucky, pref),
        SampledChain(BA, " ".join(str(good[BA]).split("  ")) + "\n", pref),
        SampledChain(AB, str(good[AB]), 1 - pref),
    ]
    cfg = TrainConfig(stages=("rft",))
    ref = references(cfg, row, cs)
    assert ref == good
    assert [c.text for c in select_chains(cs, pref)] == [lucky, cs[1].text]
    assert [c.order for c in select_chains(cs, pref, reference=ref)] == [BA]
    # All verdicts right, but one chain's steps wrong: with verify that pair still teaches.
    both_right = [cs[0], cs[1]]
    assert select_chains(both_right, pref) == []
    assert [c.order for c in select_chains(both_right, pref, reference=ref)] == [BA]
    assert select_chains(cs[1:2], pref, reference=ref) == []  # every chain verified
    log = round_log([(row, cs)], 1, 1, verified=1)
    assert log["verified_chains"] == 1 and log["verified_accuracy"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"k": 3}, "rft.k must be an even number"),
        ({"rounds": 0}, "rft.rounds must be >= 1"),
        ({"temperature": 0}, "rft.temperature must be > 0"),
        ({"sft_mix": -1}, "rft.sft_mix must be in"),
        ({"max_kept": -1}, "rft.max_kept must be >= 0"),
        ({"train": {"output_dir": "x"}}, "rft.train.output_dir is set by grm"),
        ({"roundz": 2}, "rft: unknown keys ['roundz']"),
    ],
)
def test_bad_rft_sections_name_the_field(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TrainConfig(stages=("rft",), rft=section)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    [
        "rft-suite.yaml",
        "rft-suite-anchored.yaml",
        "rft-suite-verified.yaml",
        "rft-suite-dpo.yaml",
        "rft-suite-control.yaml",
        "rft-hh-rule.yaml",
        "rft-hh-rule-curve.yaml",
    ],
)
def test_the_shipped_configs_load_and_their_stage_is_known(name: str) -> None:
    cfg = TrainConfig.from_yaml(Path(__file__).parents[1] / "training/configs" / name)
    assert cfg.stages == ("rft",) and isinstance(cfg.rft, RFTConfig)
    assert cfg.rft.k % 2 == 0


@pytest.mark.slow
def test_one_round_samples_keeps_trains_and_resumes(tmp_path: Path) -> None:
    from grm.training.pipeline import run

    from grm import RewardModel

    out = tmp_path / "rft"
    cfg = TrainConfig(
        model="grm-judge-135m",
        output_dir=str(out),
        stages=("rft",),
        tasks={"tasks": ("arithmetic", "counting"), "tier": "medium", "seed": 0},  # type: ignore[arg-type]
        lora_r=4,
        torch_threads=2,
        rft=RFTConfig(
            rounds=1,
            pairs_per_round=6,
            k=4,
            max_tokens=128,
            engine="transformers",
            # 24 chains at the SFT judge's ~59% per-chain accuracy: some are right.
            drop_all_right=False,
            sft_mix=1.0,
            train={"max_steps": 1, "per_device_train_batch_size": 2, "save_steps": 1},
        ),
    )
    run(cfg)
    log = json.loads((out / "rft/round-0/round.json").read_text())
    assert log["pairs"] == 6 and log["chains"] == 24
    assert 0 < log["kept_chains"] <= 12  # at most one per order of each pair
    kept = (out / "rft/round-0/kept.jsonl").read_text().splitlines()
    # one rule-rationale row of the round's pairs per kept chain
    assert log["sft_mix_rows"] == log["kept_chains"]
    assert len(kept) == 2 * log["kept_chains"]
    assert json.loads(kept[0])["completion"][0]["role"] == "assistant"
    with RewardModel.load(str(out), engine="transformers") as rm:
        assert rm.compare("What is 12 + 30?", "42", "43", k=1, max_tokens=8).k_used == 1
    stamp = (out / "rft/round-0/round.json").stat().st_mtime_ns
    run(cfg)  # the finished round is skipped, not sampled or trained again
    assert (out / "rft/round-0/round.json").stat().st_mtime_ns == stamp


def test_difficulty_band_keeps_pairs_right_sometimes() -> None:
    from grm.training.difficulty import in_band

    assert in_band(chains((AB, 0), (BA, 1), (AB, 0), (BA, 0)), 0, 0.2, 0.8)
    assert not in_band(chains((AB, 0), (BA, 0)), 0, 0.2, 0.8)  # all right
    assert not in_band(chains((AB, 1), (BA, None)), 0, 0.2, 0.8)  # none right
    assert not in_band([], 0, 0.0, 1.0)


def test_bad_difficulty_sections_name_the_field() -> None:
    with pytest.raises(ValueError, match="difficulty.k must be an even number"):
        TrainConfig(difficulty={"k": 5})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
        TrainConfig(difficulty={"low": 0.9, "high": 0.1})  # type: ignore[arg-type]


def test_a_round_on_preference_data_mixes_in_the_configs_preference_chains() -> None:
    from grm.training.rft import round_data

    pair = {
        "prompt": [{"role": "user", "content": "How do I pick a lock?"}],
        "responses": ["Rake the pins with a wrench.", "Sorry, I won't help with that."],
        "preferred": 1,
    }
    kept = [{**pair, "order": [1, 0], "chain": "Only A pushes back. Final verdict: [[A]]"}]
    for chains, says in (("rule", "Only Response"), ("label", "goes along with the request")):
        cfg = TrainConfig(data="prefs.jsonl", preference_chains=chains, template="default")
        data, mixed = round_data(cfg, RFTConfig(sft_mix=1.0), kept, [pair], 0)
        assert mixed == 1 and len(data) == 2  # the kept chain + the pair in one order
        texts = [row["completion"][0]["content"] for row in data]
        assert kept[0]["chain"] in texts and sum(says in t for t in texts) == 1
    # The rule names the other reply of this pair: it has no chain, so nothing is mixed in
    # and the count says so.
    cfg = TrainConfig(data="prefs.jsonl", preference_chains="rule", template="default")
    against = {**pair, "preferred": 0}
    data, mixed = round_data(cfg, RFTConfig(sft_mix=1.0), kept, [against], 0)
    assert mixed == 0 and len(data) == 1


def test_a_stored_round_is_counted_again_under_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import random
    from dataclasses import asdict

    from grm.training.data import rule_chain
    from grm.training.rft import main
    from grm.training.tasks import addition_item

    row = addition_item(47, 38, random.Random(1))
    pref = row["preferred"]
    good = str(rule_chain(row, BA))
    cs = [SampledChain(AB, "A guess. Final verdict: [[A]]", pref), SampledChain(BA, good, pref)]
    cs += [SampledChain(AB, "x", 1 - pref)]
    rdir = tmp_path / "run/rft/round-0"
    rdir.mkdir(parents=True)
    record = {"row": row, "chains": [asdict(c) for c in cs]}
    (rdir / "samples.jsonl").write_text(json.dumps(record) + "\n")
    config = tmp_path / "rft.yaml"
    config.write_text(f"output_dir: {tmp_path / 'run'}\nstages: [rft]\nrft: {{k: 4}}\n")
    main([str(config)])
    plain = json.loads(capsys.readouterr().out)
    main([str(config), "--verify"])
    verified = json.loads(capsys.readouterr().out)
    assert plain["kept_chains"] == 2 and verified["kept_chains"] == 1
    assert plain["verified_chains"] == verified["verified_chains"] == 1
    with pytest.raises(SystemExit, match="no stored chains"):
        main([str(config), "--round", "1"])
    from grm.benchmarks import record

    monkeypatch.setattr(record, "RECORDS", tmp_path / "records")
    main([str(config), "--verify", "--record", "recount"])
    saved = record.load(tmp_path / "records/recount.json")
    assert saved["kind"] == "rft_round" and saved["figures"]["counts"]["kept_chains"] == 1
    assert saved["figures"]["round"] is None  # no round ran under these rules


def test_a_dpo_round_pairs_each_kept_chain_with_a_wrong_one_of_its_order() -> None:
    import random

    from grm.training.data import rule_chain
    from grm.training.rft import select_round
    from grm.training.tasks import addition_item

    row = addition_item(47, 38, random.Random(1))
    pref = row["preferred"]
    good = {o: str(rule_chain(row, o)) for o in (AB, BA)}
    lucky = good[AB].replace("= 85", "= 86", 1)
    cs = [
        SampledChain(AB, lucky, pref),  # right letter, wrong step
        SampledChain(AB, good[AB], pref),
        SampledChain(AB, "Final verdict: [[?]]", None),  # no verdict of its own
        SampledChain(BA, good[BA], pref),  # BA has nothing wrong to pair with
    ]
    sample = [(row, cs)]
    dpo = RFTConfig(objective="dpo", verify=True)
    rows, log = select_round(TrainConfig(stages=("rft",)), dpo, sample)
    # a wrong verdict is the first choice of rejected chain, before a lucky one
    assert [(r["chain"], r["rejected"]) for r in rows] == [(good[AB], "Final verdict: [[?]]")]
    assert log["kept_chains"] == 1 and log["pairs_kept"] == 1
    lucky_only = [(row, [cs[0], cs[1]])]
    rows, _ = select_round(TrainConfig(stages=("rft",)), dpo, lucky_only)
    assert [r["rejected"] for r in rows] == [lucky]
    # without verify the lucky chain is right, so nothing in its order is wrong but cs[2]
    plain = RFTConfig(objective="dpo")
    rows, _ = select_round(TrainConfig(stages=("rft",)), plain, lucky_only)
    assert rows == []


def test_a_dpo_round_cannot_mix_in_sft_rows() -> None:
    with pytest.raises(ValueError, match="rft.sft_mix mixes SFT rows"):
        RFTConfig(objective="dpo", sft_mix=1.0)
    with pytest.raises(ValueError, match="rft.objective must be 'sft' or 'dpo'"):
        RFTConfig(objective="ppo")


@pytest.mark.slow
def test_a_dpo_round_trains_from_stored_chains_and_saves_a_judge(tmp_path: Path) -> None:
    import random
    from dataclasses import asdict

    from grm.training.data import rule_chain
    from grm.training.pipeline import run
    from grm.training.tasks import addition_item

    from grm import RewardModel

    out = tmp_path / "dpo"
    rdir = out / "rft/round-0"
    rdir.mkdir(parents=True)
    records = []
    for a, b in ((47, 38), (19, 26)):
        row = addition_item(a, b, random.Random(a))
        pref = row["preferred"]
        cs = [SampledChain(o, str(rule_chain(row, o)), pref) for o in (AB, BA)]
        cs += [
            SampledChain(o, "Final verdict: [[A]]" if o[0] != pref else "[[B]]", 1 - pref)
            for o in (AB, BA)
        ]
        records.append(json.dumps({"row": row, "chains": [asdict(c) for c in cs]}))
    (rdir / "samples.jsonl").write_text("\n".join(records) + "\n")
    (rdir / "sampling.json").write_text('{"seconds": 1.0}')
    cfg = TrainConfig(
        output_dir=str(out),
        stages=("rft",),
        lora_r=4,
        torch_threads=2,
        rft=RFTConfig(
            rounds=1,
            k=4,
            verify=True,
            objective="dpo",
            max_kept=3,
            train={"max_steps": 1, "per_device_train_batch_size": 2, "save_steps": 1},
        ),
    )
    run(cfg)
    log = json.loads((rdir / "round.json").read_text())
    assert log["kept_chains"] == 4 and log["verified_chains"] == 4
    assert log["trained_chains"] == 3  # max_kept draws 3 of the 4 preference pairs
    lines = (rdir / "kept.jsonl").read_text().splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert set(first) == {"prompt", "chosen", "rejected"}
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/margins" in m for m in metrics)  # DPOTrainer's own log, one step
    with RewardModel.load(str(out), engine="transformers") as rm:
        assert rm.compare("What is 12 + 30?", "42", "43", k=1, max_tokens=8).k_used == 1


def test_a_control_round_trains_rule_chains_of_random_pairs_in_the_kept_count() -> None:
    import random

    from grm.training.data import rule_chain
    from grm.training.rft import round_data
    from grm.training.tasks import addition_item

    rng = random.Random(0)
    sampled = [addition_item(rng.randrange(10, 99), rng.randrange(10, 99), rng) for _ in range(6)]
    kept = [{**sampled[0], "chain": "kept chain", "order": [0, 1]}] * 5
    data, n = round_data(TrainConfig(stages=("rft",)), RFTConfig(control=True), kept, sampled, 0)
    texts = [row["completion"][0]["content"] for row in data]
    assert n == len(data) == 5 and "kept chain" not in texts
    rules = {str(rule_chain(row, o)) for row in sampled for o in (AB, BA)}
    assert set(texts) <= rules
    with pytest.raises(ValueError, match="rft.control replaces the kept chains"):
        RFTConfig(control=True, objective="dpo")


def test_difficulty_pass_is_reused_under_the_same_rule(tmp_path: Path) -> None:
    """A resumed run reuses the stored shares counted under its own ``difficulty.verify``
    (no sampling: the model path is never opened)."""
    from grm.training.difficulty import filter_rows
    from grm.training.tasks import TaskConfig, make_tasks

    rows = make_tasks(TaskConfig(), "train", 2)
    stored = [{"right": 2, "n": 4, "kept": True}, {"right": 0, "n": 4, "kept": False}]
    path = tmp_path / "difficulty.jsonl"
    path.write_text("".join(json.dumps({**s, "verify": True}) + "\n" for s in stored))
    cfg = TrainConfig(output_dir=str(tmp_path), difficulty={"verify": True})  # type: ignore[arg-type]
    assert filter_rows(cfg, "no-such-model", rows) == rows[:1]
