"""The lexical rationale for labelled pairs without verifiable facts (HH-RLHF and the like)."""

from __future__ import annotations

from typing import Any

import pytest
from grm.training.data import sft_rows

from grm.templates import get_template

ROW = {
    "prompt": [{"role": "user", "content": "How do I pick a lock?"}],
    "responses": ["First insert a tension wrench, then rake the pins.", "I'd rather not help."],
    "preferred": 1,
}


def labelled_slot(out: dict[str, Any]) -> int:
    """Where ROW's labelled reply (its second) is shown in an SFT row's judge prompt."""
    shown = [m for m in out["prompt"] if m["role"] == "user"][-1]["content"]
    return 0 if shown.index(ROW["responses"][1]) < shown.index(ROW["responses"][0]) else 1


def test_each_order_names_the_labelled_reply_and_parses_to_it() -> None:
    tpl = get_template("default")
    rows = sft_rows([ROW], "default", both_orders=True, preference_chains="label")
    assert len(rows) == 2
    for out in rows:
        chain = out["completion"][0]["content"]
        slot = labelled_slot(out)
        parsed = tpl.parse(chain, 2)
        assert parsed is not None and parsed.winner == slot
        assert '"I\'d rather not")' in chain and "goes along with the request" in chain


def test_without_the_switch_a_pair_without_facts_is_refused() -> None:
    with pytest.raises(ValueError, match="an SFT row needs a 'chain'"):
        sft_rows([ROW], "default")


def test_rule_chains_reason_to_the_label_and_leave_out_the_orders_where_they_cannot() -> None:
    tpl = get_template("default")
    rows = sft_rows([ROW], "default", both_orders=True, preference_chains="rule")
    assert len(rows) == 2
    for out in rows:
        chain = out["completion"][0]["content"]
        slot = labelled_slot(out)
        parsed = tpl.parse(chain, 2)
        assert parsed is not None and parsed.winner == slot
        assert f"Only Response {'AB'[slot]} pushes back" in chain
    # labelled against the rule (the reply that goes along, and is longer): no chain at all
    against = {**ROW, "preferred": 0}
    assert sft_rows([against], "default", both_orders=True, preference_chains="rule") == []
    # neither pushes back: the shorter reply, said so
    plain = {**ROW, "responses": ["Use a pick and a wrench.", "Use a pick, a wrench and time."]}
    (first, *_) = sft_rows([{**plain, "preferred": 0}], "default", preference_chains="rule")
    assert "Neither pushes back; Response" in first["completion"][0]["content"]


def test_an_unknown_chain_kind_is_named() -> None:
    with pytest.raises(ValueError, match="preference_chains must be one of"):
        sft_rows([ROW], "default", preference_chains="cues")
