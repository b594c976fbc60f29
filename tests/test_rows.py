"""Row shapes in one place (grm.rows): every shape, the per-face parameters, HH-RLHF
transcripts (real rows from ../shared/data and edge cases), and the readers' bad lines."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import SHARED_DATA
from fake_engine import FakeEngine
from grm.training.data import load_preferences
from grm.training.user_data import prepare, split_by_prompt

import grm
from grm import RewardModel
from grm.evaluation import EvalConfig, evaluate, load_items, read_items
from grm.jobs.output import all_records
from grm.model import as_request
from grm.rows import (
    FORMATS,
    SHAPES,
    RowError,
    detect_shape,
    jsonl_records,
    place,
    read_numbered,
    read_row,
)
from grm.rows.transcripts import hh_pair, split_turns

HH = SHARED_DATA / "hh-harmless-train.jsonl"


def hh(*turns: str) -> str:
    """A transcript from alternating Human / Assistant turns."""
    return "".join(
        f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns)
    )


def hh_rows(n: int) -> list[dict[str, Any]]:
    if not HH.is_file():
        pytest.skip(f"{HH} is not present")
    with HH.open() as f:
        return [json.loads(next(f)) for _ in range(n)]


# ---------------------------------------------------------------- every shape


SHAPE_TABLE: list[tuple[dict[str, Any], str, Any, tuple[str, ...], int]] = [
    ({"prompt": "p", "responses": ["x", "y"], "preferred": 1}, "rows", "p", ("x", "y"), 1),
    ({"prompt": "p", "responses": ["x", "y", "z"], "scores": [1, 9, 4]}, "pointwise", "p",
     ("x", "y", "z"), 1),
    ({"prompt": "p", "candidates": ["x", "y"], "preferred": 0}, "pointwise", "p", ("x", "y"), 0),
    ({"question": "q", "response_A": "x", "response_B": "y", "label": "B>A"}, "judgebench", "q",
     ("x", "y"), 1),
    ({"chosen": hh("q", "a", "q2", "x"), "rejected": hh("q", "a", "q2", "y")}, "hh-rlhf",
     [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
      {"role": "user", "content": "q2"}], ("x", "y"), 0),
    ({"prompt": "p", "chosen": "x", "rejected": "y", "subset": "math"}, "rewardbench", "p",
     ("x", "y"), 0),
    ({"prompt": "p", "chosen": "x", "rejected": "y"}, "pairs", "p", ("x", "y"), 0),
    ({"chosen": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "x"}],
      "rejected": [{"role": "user", "content": "p"}, {"role": "assistant", "content": "y"}]},
     "pairs", [{"role": "user", "content": "p"}], ("x", "y"), 0),
]  # fmt: skip


@pytest.mark.parametrize(("row", "shape", "prompt", "responses", "preferred"), SHAPE_TABLE)
def test_every_shape_reads_to_one_request(
    row: dict[str, Any], shape: str, prompt: Any, responses: tuple[str, ...], preferred: int
) -> None:
    assert detect_shape(row) == shape
    item = read_row(row, labelled=True)
    assert item.shape == shape and item.preferred == preferred
    request = item.request()
    assert request.prompt == prompt and request.responses == responses
    # The same row named explicitly reads the same; unlabelled it carries no preference.
    assert read_row(row, shape, labelled=True) == item
    assert read_row(row).preferred is None
    # RewardModel takes every shape as a request, in the stored order (chosen is A).
    assert as_request(row) == request


def test_formats_come_from_the_registry() -> None:
    assert ("auto", *SHAPES) == FORMATS and "hh-rlhf" in FORMATS
    from grm.cli import build_parser

    for argv in (["eval", "d.jsonl"], ["label", "d.jsonl", "--out", "o.jsonl"]):
        args = build_parser().parse_args([*argv, "--data-format", "hh-rlhf"])
        assert args.data_format == "hh-rlhf"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["eval", "d.jsonl", "--data-format", "csv"])
    with pytest.raises(ValueError, match="data format must be one of auto, rows"):
        read_row({"prompt": "p", "a": "x", "b": "y"}, "tsv")


def test_a_b_dicts_and_chosen_rejected_are_requests_for_the_model() -> None:
    rm = RewardModel(FakeEngine(lambda p, i: "Final verdict: [[A]]"))
    results = rm.compare_batch(
        [
            {"prompt": "q", "a": "x", "b": "y"},
            {"prompt": "q", "chosen": "x", "rejected": "y"},
            {"chosen": hh("q", "x"), "rejected": hh("q", "y")},
        ],
        k=2,
    )
    assert [r.k_used for r in results] == [2, 2, 2]
    with pytest.raises(ValueError, match=r"requests\[0\]: the row's 'rejected' is missing"):
        as_request({"prompt": "q", "chosen": "x"})


def test_placement_is_a_per_face_parameter() -> None:
    rows = [{"prompt": f"q{i}", "chosen": "good", "rejected": "bad"} for i in range(40)]
    items = [read_row(r, labelled=True) for r in rows]
    rng = random.Random(0)
    placed = [place(it, rng) for it in items]
    assert {p.preferred for p in placed} == {0, 1}  # the RewardBench coin (eval, training)
    assert all(p.responses[p.preferred] == "good" for p in placed)
    # JudgeBench keeps its stored order, and so does an unlabelled (grm label) pair.
    jb = read_row(
        {"question": "q", "response_A": "a", "response_B": "b", "label": "B>A"}, labelled=True
    )
    assert place(jb, random.Random(0)) == jb
    assert place(read_row(rows[0]), random.Random(0)).responses == ("good", "bad")


# ---------------------------------------------------------------- HH-RLHF transcripts


def test_real_hh_rows_read_as_conversation_and_last_replies() -> None:
    for row in hh_rows(6):
        assert detect_shape(row) == "hh-rlhf"
        item = read_row(row, labelled=True)
        prompt = item.prompt
        assert isinstance(prompt, list) and prompt[0]["role"] == "user"
        assert prompt[-1]["role"] == "user"
        assert [m["role"] for m in prompt] == ["user", "assistant"] * (len(prompt) // 2) + ["user"]
        a, b = item.responses
        # The chosen transcript is exactly the conversation plus the chosen reply.
        assert row["chosen"].endswith(a) and row["rejected"].endswith(b) and a != b
        rebuilt = hh(*[m["content"] for m in prompt], a)
        assert " ".join(rebuilt.split()) == " ".join(row["chosen"].split())
        assert item.request().prompt_str.startswith("user: ")


HH_BAD = [
    ({"chosen": hh("q", "x"), "rejected": hh("other q", "y")}, "differ before their last",
     "invalid"),
    ({"chosen": hh("q", "a", "q2", "x"), "rejected": hh("q", "x")}, "differ before their last",
     "invalid"),
    ({"chosen": hh("q", ""), "rejected": hh("q", "y")},
     "last assistant reply of 'chosen' is empty", "empty_response"),
    ({"chosen": hh("q", "x"), "rejected": hh("q", "x")}, "end with the same reply", "invalid"),
    ({"chosen": hh("q", "x", "more?"), "rejected": hh("q", "y", "more?")}, "ends with a Human turn",
     "invalid"),
    ({"chosen": hh("q", "x"), "rejected": "Human: q\n\nAssistant: y"}, "does not start with",
     "invalid"),
    ({"chosen": hh("q", "x")}, "'rejected' is missing", "missing_field"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "message", "kind"), HH_BAD)
def test_unusable_hh_pairs_are_refused_with_the_reason(
    row: dict[str, Any], message: str, kind: str
) -> None:
    with pytest.raises(RowError, match=message) as info:
        read_row(row, "hh-rlhf", labelled=True)
    assert info.value.kind == kind


def test_turn_markers_are_exact() -> None:
    # "Human:" without the blank line before it is text inside a turn.
    turns = split_turns(hh("say 'Human: hi'\nHuman: again", "ok"))
    assert turns == [
        {"role": "user", "content": "say 'Human: hi'\nHuman: again"},
        {"role": "assistant", "content": "ok"},
    ]
    prompt, a, b = hh_pair(hh("q", "x\n\nmore"), hh("q", "y"))
    assert prompt == [{"role": "user", "content": "q"}] and a == "x\n\nmore" and b == "y"


def test_hh_file_through_eval_label_and_train(tmp_path: Path) -> None:
    rows = hh_rows(8)
    rows.insert(3, {"chosen": hh("q", ""), "rejected": hh("q", "y")})  # an empty chosen reply
    src = tmp_path / "hh.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    # grm eval: the chosen reply in a random slot per item, the bad row dropped by line.
    items, dropped = read_items(src, seed=1)
    assert len(items) == 8 and {it.label for it in items} == {0, 1}
    assert dropped == [
        "line 4: the last assistant reply of 'chosen' is empty; there is nothing to judge "
        "(drop the row)."
    ]
    for it, row in zip(items, rows[:3] + rows[4:], strict=True):
        assert row["chosen"].endswith(it.request.responses[it.label])
    with pytest.raises(RowError, match="line 4: the last assistant reply"):
        load_items(src)
    rm = RewardModel(FakeEngine(lambda p, i: "Final verdict: [[A]]"))
    report = evaluate(rm, items, EvalConfig(k=2), progress=False)
    assert report["n"] == 8
    # grm label: chosen is A, the bad row goes to the errors file with its line.
    s = grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, progress=False)
    assert (s.judged, s.error_rows, s.written) == (8, 1, 8)
    (error,) = all_records(tmp_path / "out.errors.jsonl")
    assert error["line"] == 4 and "is empty" in error["error"]
    dpo = tmp_path / "dpo.jsonl"
    grm.label(src, dpo, rm=rm, k=2, format="dpo", ties="keep", progress=False)
    first = all_records(dpo)[0]
    assert first["prompt"] == read_row(rows[0]).prompt
    assert first["chosen"] == [{"role": "assistant", "content": read_row(rows[0]).responses[0]}]
    # grm train's loaders: the bad row dropped with its reason, the rest split by conversation.
    report = prepare(src, heldout_fraction=0.5, seed=3)
    assert report.format == "hh-rlhf" and report.kept == 8
    (bad,) = report.dropped
    assert bad.kind == "empty_response" and bad.index == 3
    assert all(isinstance(r["prompt"], list) for r in report.train + report.heldout)
    assert len(load_preferences(rows[:3], "hh-rlhf")) == 3


def test_the_split_keys_on_the_conversation_not_the_transcript() -> None:
    # Many pairs of one dialogue with different last replies: one side of the split.
    rows = [
        {"chosen": hh(f"q{d}", "hi", "more", f"good {r}"),
         "rejected": hh(f"q{d}", "hi", "more", f"bad {r}")}
        for d in range(30)
        for r in range(3)
    ]  # fmt: skip
    prepared = load_preferences(rows)
    train, held = split_by_prompt(prepared, 0.4, seed=0)
    assert train and held
    key = lambda r: json.dumps(r["prompt"])  # noqa: E731
    assert not {key(r) for r in train} & {key(r) for r in held}
    assert all(sum(key(r) == key(x) for x in held) == 3 for r in held)


# ---------------------------------------------------------------- reading


def test_the_reader_numbers_lines_and_keeps_going(tmp_path: Path) -> None:
    data = b'{"prompt": "a"}\n\n"x"\n[1, 2]\n{bad\n\xff\xfe\n{"p": "u\xe2\x80\xa8v"}\r\n'
    got = jsonl_records(data)
    assert [n for n, _ in got] == [1, 3, 4, 5, 6, 7]
    assert got[0][1] == {"prompt": "a"} and got[5][1] == {"p": "u\u2028v"}  # U+2028 is text
    reasons = [r.get("__grm_bad_line__", "") for _, r in got]
    assert "JSON string" in reasons[1] and "JSON array" in reasons[2]
    assert "not valid JSON" in reasons[3] and "not valid UTF-8" in reasons[4]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"prompt": "a"}, 42]))
    assert [n for n, _ in read_numbered(path)] == [1, 2]
    with pytest.raises(RowError, match="the line is a JSON number"):
        read_row(read_numbered(path)[1][1])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_numbered(tmp_path / "missing.jsonl")
