"""Directive feedback: per-template critique extraction and the chain a result reports."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngine

from grm.config import JudgeConfig
from grm.driver import judge_batch
from grm.templates import get_template
from grm.types import Chain, JudgeRequest, Judgment, select_feedback

CRITIQUE_TABLE = [
    # (template, chain text, expected critique)
    (
        "default",
        "B says 52, but 12+30 is 42; B should redo the sum.\nFinal verdict: [[A]]",
        "B says 52, but 12+30 is 42; B should redo the sum.",
    ),
    ("default", "A is right.", "A is right."),  # no verdict: the whole chain
    ("default", "", ""),
    (
        "rm-r1",
        "Rubric: exact sum.\n<eval>A is exact; B adds wrong, fix the carry.</eval>\n"
        "<answer>[[A]]</answer>",
        "A is exact; B adds wrong, fix the carry.",
    ),
    ("rm-r1", "B forgot the units.<answer>[[A]]</answer>", "B forgot the units."),
    (
        "j1",
        "<think>B ignores the question; it should answer it.</think><answer>[[A]]</answer>",
        "B ignores the question; it should answer it.",
    ),
    ("j1", "<think>cut before closing", "cut before closing"),
    (
        "rrm",
        "Output 2 is off by ten; it should recount.\n\\boxed{Assistant 1}",
        "Output 2 is off by ten; it should recount.",
    ),
    (
        "pointwise",
        "Principles: accuracy.\nCritique: Response 2 is wrong, redo step 2.\n"
        "Final Scores: [[9, 3]]",
        "Response 2 is wrong, redo step 2.",
    ),
    ("pointwise", "Response 1 fine.\nFinal Scores: [[8]]", "Response 1 fine."),
    (
        "judgelrm",
        "<think>A cites no source; add one.</think>\n<answer>6</answer><answer>8</answer>",
        "A cites no source; add one.",
    ),
    (
        "multiturn",
        "Turn 2 calls the wrong tool; it should call search.\nOverall Score: [[5]]\n"
        "Turn Scores: [[8, 3]]",
        "Turn 2 calls the wrong tool; it should call search.",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CRITIQUE_TABLE)
def test_template_critique(name: str, text: str, expected: str) -> None:
    assert get_template(name).critique(text) == expected


def _chain(
    winner: int | None = None,
    scores: tuple[float, ...] | None = None,
    critique: str = "",
    forced: bool = False,
    budget_hit: bool = False,
) -> Chain:
    return Chain(
        "",
        (0, 1),
        Judgment(winner=winner, scores=scores),
        forced=forced,
        critique=critique,
        budget_hit=budget_hit,
    )


def test_feedback_comes_from_a_chain_that_agrees() -> None:
    chains = [_chain(1, critique="B is better."), _chain(0, critique="A is right; B miscounts.")]
    assert select_feedback(chains, winner=0) == "A is right; B miscounts."
    assert select_feedback(chains, winner=1) == "B is better."


def test_feedback_prefers_a_finished_chain_and_skips_empty_critiques() -> None:
    chains = [
        _chain(0, critique="", forced=False),
        _chain(0, critique="cut short", budget_hit=True, forced=True),
        _chain(0, critique="complete reasoning"),
    ]
    assert select_feedback(chains, winner=0) == "complete reasoning"
    assert select_feedback(chains[:2], winner=0) == "cut short"
    assert select_feedback([_chain(1, critique="x")], winner=0) is None
    assert select_feedback([], winner=None) is None


def test_pointwise_feedback_is_the_chain_closest_to_the_mean() -> None:
    chains = [
        _chain(scores=(9.0, 1.0), critique="far"),
        _chain(scores=(7.0, 4.0), critique="close"),
        _chain(scores=(5.0, 6.0), critique="opposite"),
    ]
    assert select_feedback(chains, winner=0, scores=(7.0, 3.7)) == "close"


def test_result_exposes_feedback_in_its_summary() -> None:
    def script(prompt: str, i: int) -> str:
        first_is_right = prompt.index("42") < prompt.index("52")
        good = "A" if first_is_right else "B"
        bad = "B" if first_is_right else "A"
        if i == 0 and first_is_right:  # one dissenting chain
            return f"{bad} looks fine.\nFinal verdict: [[{bad}]]"
        return f"{bad} says 52; it should add 12 and 30 again.\nFinal verdict: [[{good}]]"

    req = JudgeRequest("12 + 30?", ("42", "52"))
    cfg = JudgeConfig(k=4, seed=3)
    (result,) = judge_batch(FakeEngine(script), get_template("default"), [req], cfg)
    assert result.winner == 0
    assert result.feedback is not None and "add 12 and 30 again" in result.feedback
    assert result.summary()["feedback"] == result.feedback
