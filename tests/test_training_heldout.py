"""Held-out accuracy math and the end-of-run summary (pure; no model)."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
from grm.training.heldout import heldout_metrics, single_chain_score
from grm.training.plot import plot_metrics, summarize_run

from grm.eval_metrics import ChainRecord


@pytest.mark.parametrize(
    "name", ["grm.training.user_data", "grm.training.data_report", "grm.training.heldout"]
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def _pair(right: int, wrong: int, tie: int = 0, label: int = 0) -> list[ChainRecord]:
    chains = [ChainRecord(i % 2, label) for i in range(right)]
    chains += [ChainRecord(i % 2, 1 - label) for i in range(wrong)]
    chains += [ChainRecord(i % 2, None) for i in range(tie)]
    return chains


def test_k1_is_the_mean_chain_and_k8_the_majority() -> None:
    chains = [_pair(6, 2), _pair(3, 5), _pair(4, 4)]
    m = heldout_metrics(chains, [0, 0, 0], ks=(1, 8))
    assert m["accuracy_k1"] == pytest.approx((6 / 8 + 3 / 8 + 4 / 8) / 3)
    assert m["accuracy_k8"] == pytest.approx((1 + 0 + 0.5) / 3)  # a 4-4 split is a tie: 0.5
    assert m["ci95_lo_k8"] <= m["accuracy_k8"] <= m["ci95_hi_k8"]
    assert m["n"] == 3 and m["parsed_rate"] == 1.0


def test_abstentions_count_half_and_forced_chains_lower_the_parsed_rate() -> None:
    assert single_chain_score(_pair(0, 0, tie=4), 0) == 0.5
    forced = [ChainRecord(0, 0, forced=True), ChainRecord(1, 0)]
    assert heldout_metrics([forced], [0], ks=(1, 2))["parsed_rate"] == 0.5


def test_summary_and_curve_from_a_metrics_file(tmp_path: Path) -> None:
    rows = [
        {"stage": "grpo", "event": "train_begin", "step": 0},
        {"stage": "grpo", "step": 0, "heldout/accuracy_k1": 0.5, "heldout/accuracy_k8": 0.5,
         "heldout/n": 16},
        {"stage": "grpo", "step": 1, "loss": 0.1, "reward": 0.2, "time_s": 10.0},
        {"stage": "grpo", "step": 2, "loss": 0.3, "reward": 0.4, "time_s": 20.0},
        {"stage": "grpo", "step": 2, "heldout/accuracy_k1": 0.6, "heldout/accuracy_k8": 0.7,
         "heldout/n": 16, "time_s": 25.0},
        {"stage": "grpo", "step": 2, "train_runtime": 30.0},
    ]  # fmt: skip
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    s = summarize_run(path)["grpo"]
    assert s["steps"] == 2 and s["seconds"] == 25.0
    assert s["last_10_steps"]["loss"] == pytest.approx(0.2)
    assert [h["accuracy_k8"] for h in s["heldout"]] == [0.5, 0.7]
    assert plot_metrics(path, tmp_path / "c.png").stat().st_size > 1000
