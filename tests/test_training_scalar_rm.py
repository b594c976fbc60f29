"""The scalar Bradley-Terry baseline: its pairs, and one real train-and-score run."""

from __future__ import annotations

from pathlib import Path

import pytest
from grm.training.scalar_rm import preference_rows, suite_heldout_rows, suite_train_rows


def test_training_pairs_never_include_a_heldout_prompt() -> None:
    train = {r["prompt"] for r in suite_train_rows(320)}
    for offset in (0, 50):  # the two documented held-out sets
        held = suite_heldout_rows(50, offset)
        assert len(held) == 300
        assert not train & {r["prompt"] for r in held}


def test_preference_rows_put_the_preferred_response_in_chosen() -> None:
    rows = preference_rows(
        [{"prompt": [{"role": "user", "content": "q"}], "responses": ["a", "b"], "preferred": 1}]
    )
    assert rows[0]["chosen"][0]["content"] == "b" and rows[0]["rejected"][0]["content"] == "a"
    assert rows[0]["prompt"] == [{"role": "user", "content": "q"}]


@pytest.mark.slow
def test_one_step_trains_saves_and_scores_heldout_pairs(tmp_path: Path) -> None:
    from grm.training.scalar_rm import score, train

    out = train(
        suite_train_rows(4),
        tmp_path / "rm",
        max_steps=1,
        per_device_train_batch_size=2,
        torch_threads=1,
    )
    report = score(out, suite_heldout_rows(1))
    assert report["n"] == 6 and len(report["per_pair"]) == 6
    assert set(report["per_pair"]) <= {0.0, 0.5, 1.0}
    assert report["interval"][0] <= report["accuracy"] <= report["interval"][1]
    assert report["seconds_per_pair"] > 0
