"""Auto-detection of published judges and their decoding defaults, offline."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from grm.templates import get_template
from grm.templates.defaults import apply_decoding, budget_too_low, choose_templates
from grm.templates.detect import KNOWN, detect


@pytest.mark.parametrize(
    ("model", "template", "pointwise"),
    [
        ("gaotang/RM-R1-Qwen2.5-Instruct-7B", "rm-r1", "pointwise"),
        ("gaotang/RM-R1-DeepSeek-Distilled-Qwen-14B", "rm-r1-reasoning", "pointwise"),
        ("Reward-Reasoning/RRM-32B", "rrm", "pointwise"),
        ("nuojohnchen/JudgeLRM-7B", "judgelrm", "judgelrm"),
        ("BBQGOD/DeepSeek-GRM-16B", "deepseek-grm", "deepseek-grm"),
        ("prometheus-eval/prometheus-7b-v2.0", "prometheus-relative", "prometheus-absolute"),
        ("facebook/J1-Llama-8B", "j1", "pointwise"),
    ],
)
def test_known_checkpoints(model: str, template: str, pointwise: str) -> None:
    found = detect(model)
    assert found is not None
    assert (found.judge.template, found.judge.pointwise_template) == (template, pointwise)
    pair, point = choose_templates(model, None, None)
    assert (pair.name, point.name) == (get_template(template).name, get_template(pointwise).name)


def test_every_known_template_exists() -> None:
    for judge in KNOWN:
        get_template(judge.template)
        get_template(judge.pointwise_template)


def test_a_local_copy_is_recognised_from_its_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {"_name_or_path": "Reward-Reasoning/RRM-7B", "architectures": ["Qwen2ForCausalLM"]}
        )
    )
    found = detect(str(tmp_path))
    assert found is not None and found.judge.template == "rrm"


def test_explicit_template_wins_and_unknown_models_say_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pair, point = choose_templates("Reward-Reasoning/RRM-7B", "j1", None)
    assert pair.name == "j1" and point.name == "pointwise"
    with caplog.at_level(logging.INFO, logger="grm.templates.defaults"):
        for _ in range(3):
            pair, point = choose_templates("my-org/some-new-model", None, None)
    assert (pair.name, point.name) == ("default", "pointwise")
    said = [r for r in caplog.records if "not a published judge" in r.message]
    assert len(said) == 1


def test_decoding_defaults_apply_unless_set() -> None:
    rrm = get_template("rrm")
    assert apply_decoding(rrm, {}, 32768) == {"max_tokens": 8192}
    assert apply_decoding(rrm, {"max_tokens": 100}, 32768) == {"max_tokens": 100}
    assert apply_decoding(rrm, {}, 4096) == {"max_tokens": 2048}  # capped by the context
    prom = get_template("prometheus-absolute")
    assert apply_decoding(prom, {}, 32768) == {"max_tokens": 1024, "top_p": 0.9}
    assert apply_decoding(get_template("default"), {}, 4096) == {}
    assert get_template("rrm").default_temperature == 0.6
    assert get_template("judgelrm").default_temperature == 0.1
    assert get_template("rm-r1").default_temperature == 0.0


def test_a_budget_that_cuts_most_chains_is_flagged(caplog: pytest.LogCaptureFixture) -> None:
    from fake_engine import FakeEngine

    from grm import RewardModel

    assert budget_too_low(get_template("rrm"), 256)
    assert not budget_too_low(get_template("default"), 16)
    rm = RewardModel(FakeEngine(lambda p, i: "x" * 4000), "rrm")
    with caplog.at_level(logging.WARNING, logger="grm.model"):
        rm.compare("q?", "a", "b", k=2, max_tokens=64)
        rm.compare("q?", "a", "b", k=2, max_tokens=64)
    low = [r for r in caplog.records if "far below the 8192" in r.message]
    cut = [r for r in caplog.records if "hit max_tokens=64" in r.message]
    assert len(low) == 1 and len(cut) == 1
