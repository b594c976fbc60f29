"""Data-set jobs on a scripted engine: ids, chunks, resume, errors, DPO rows, ranking, CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_engine import FakeEngine

import grm
from grm import RewardModel
from grm.jobs import JobConfig
from grm.jobs.ids import chunk_budget, chunk_of, content_id, n_chunks
from grm.jobs.output import all_records, dpo_rows
from grm.jobs.shards import ShardStore, job_paths


def slot_text(prompt: str, slot: str) -> str:
    m = re.search(rf"<response_{slot}>\n(.*?)\n</response_{slot}>", prompt, re.S)
    assert m, prompt
    return m.group(1)


def picks_42(prompt: str, i: int) -> str:
    """Always right: the response holding 42 wins."""
    return "Final verdict: [[A]]" if "42" in slot_text(prompt, "A") else "Final verdict: [[B]]"


def scores_42(prompt: str, i: int) -> str:
    slots = re.findall(r"<response_(\d+)>\n(.*?)\n</response_\d+>", prompt, re.S)
    return "Final Scores: [[" + ", ".join("9" if "42" in t else "2" for _, t in slots) + "]]"


def rb_rows(n: int) -> list[dict[str, Any]]:
    """RewardBench rows; the 42 answer is 'chosen' on even rows, 'rejected' on odd ones."""
    return [
        {
            "prompt": f"What is 6 x 7? (#{i})",
            "chosen": "42" if i % 2 == 0 else f"41 ({i})",
            "rejected": f"41 ({i})" if i % 2 == 0 else "42",
            "subset": "math",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def fake_rm(script: Any = picks_42, **kw: Any) -> tuple[RewardModel, FakeEngine]:
    engine = FakeEngine(script, **kw)
    return RewardModel(engine), engine


def generate_calls(engine: FakeEngine) -> int:
    return sum(1 for name, _ in engine.calls if name == "generate")


def test_ids_are_content_hashes_and_chunks_are_stable() -> None:
    a = content_id("q", ["x", "y"])
    assert a == content_id("q", ("x", "y"))
    assert a != content_id("q", ["y", "x"]) and a != content_id("q", ["x", "y"], "ref")
    assert n_chunks(100, 16) == 7 and n_chunks(0, 16) == 1
    spread = {chunk_of(content_id("q", [str(i), "y"]), 7) for i in range(200)}
    assert spread == set(range(7))
    assert chunk_budget(1000, 10, 100) == 100 and chunk_budget(None, 10, 100) is None


def test_label_writes_every_shape_once_with_the_right_verdict(tmp_path: Path) -> None:
    rows = rb_rows(6) + [
        {"question": "6 x 7?", "response_A": "41", "response_B": "42", "label": "B>A"},
        {"prompt": [{"role": "user", "content": "6 x 7?"}], "responses": ["42", "40"]},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    rm, engine = fake_rm()
    s = grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, batch_size=3, progress=False)
    out = all_records(tmp_path / "out.jsonl")
    assert [r.get("prompt", r.get("question")) for r in out] == [
        r.get("prompt", r.get("question")) for r in rows
    ]  # input order, every row once
    assert len({r["grm_row_id"] for r in out}) == len(rows)
    want = ["A", "B", "A", "B", "A", "B", "B", "A"]
    assert [r["grm_verdict"] for r in out] == want
    first = out[0]
    assert first["grm_k"] == 2 and first["grm_votes"] == [2, 0]
    assert first["grm_position_consistency"] == 1.0 and first["grm_p_a"] > 0.5
    assert first["subset"] == "math"  # the input columns stay
    assert s.judged == len(rows) and s.errors == 0 and s.chains == 2 * len(rows)
    assert s.written == len(rows) and s.completion_tokens > 0
    # One batched engine pass per chunk (k=2 position-balanced: one generate call each).
    assert generate_calls(engine) == len(list(ShardStore(tmp_path / "out.jsonl.parts").files()))
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert summary["judged"] == len(rows) and summary["rows_per_s"] > 0


def test_identical_rows_are_judged_once_and_each_comes_out_under_its_own_id(
    tmp_path: Path,
) -> None:
    rows = [{**r, "id": f"r{i}"} for i, r in enumerate(rb_rows(3))]
    same_content = {**rows[1], "id": "r9"}  # the same pair under another id (issue 26)
    src = write_jsonl(tmp_path / "in.jsonl", [*rows, same_content, rows[1]])
    rm, engine = fake_rm()
    s = grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, progress=False)
    assert (s.rows, s.items, s.judged) == (5, 3, 3)  # judged once per distinct pair
    assert sum(n for name, n in engine.calls if name == "generate") == 2 * 3  # both orders
    out = all_records(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == ["r0", "r1", "r2", "r9", "r1"]  # every row, input order
    row_ids = [r["grm_row_id"] for r in out]
    assert len(set(row_ids)) == 5
    assert row_ids[3] == row_ids[1] + "-2" and row_ids[4] == row_ids[1] + "-3"
    assert out[1]["grm_verdict"] == out[3]["grm_verdict"] == out[4]["grm_verdict"] == "B"
    assert s.written == 5
    dpo = grm.label(src, tmp_path / "dpo.jsonl", rm=rm, k=2, format="dpo", progress=False)
    assert dpo.written == 5


class Crash(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


def test_a_crashed_job_resumes_without_judging_a_row_twice(tmp_path: Path) -> None:
    rows = rb_rows(12)
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    calls = {"n": 0}

    def dies_on_third_chunk(prompt: str, i: int) -> str:
        if i == 0 and "(#" in prompt:
            calls["n"] += 1
        if calls["n"] > 2 * 3 * 2:  # past the 2nd chunk's chains (k=2, ~3 rows a chunk)
            raise Crash
        return picks_42(prompt, i)

    rm, _ = fake_rm(dies_on_third_chunk)
    with pytest.raises(Crash):
        grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, batch_size=3, progress=False)
    store = ShardStore(job_paths(tmp_path / "out.jsonl")["parts"])
    first = {r["id"] for r in store.records()}
    assert 0 < len(first) < len(rows) and not (tmp_path / "out.jsonl").exists()
    rm2, engine2 = fake_rm()
    s = grm.label(src, tmp_path / "out.jsonl", rm=rm2, k=2, batch_size=3, progress=False)
    assert s.skipped == len(first) and s.judged == len(rows) - len(first)
    # Nothing judged twice: the shards hold each id once; the output every row once.
    ids = [r["id"] for r in store.records()]
    assert len(ids) == len(set(ids)) == len(rows)
    out = all_records(tmp_path / "out.jsonl")
    assert sorted(r["grm_row_id"] for r in out) == sorted(ids)
    assert [r["grm_verdict"] for r in out] == ["A", "B"] * 6
    chunks = {r["chunk"] for r in store.records()}
    assert generate_calls(engine2) == len(chunks) - len(
        {r["chunk"] for r in store.records() if r["id"] in first}
    )


def test_bad_rows_go_to_the_errors_file_and_the_job_goes_on(tmp_path: Path) -> None:
    rows = [
        *rb_rows(4),
        {"prompt": "no rejected", "chosen": "42"},
        {"prompt": "empty", "chosen": "42", "rejected": "   "},
        {"prompt": "number", "chosen": 42, "rejected": "41"},
        {"prompt": "too long " * 3000, "chosen": "42", "rejected": "41"},
        {"prompt": "BOOM", "chosen": "42", "rejected": "41"},  # the engine fails on it
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)

    def fails_on_boom(prompt: str, i: int) -> str:
        if "BOOM" in prompt:
            raise RuntimeError("engine fell over")
        return picks_42(prompt, i)

    rm, _ = fake_rm(fails_on_boom, max_context=2048)
    s = grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, batch_size=8, progress=False)
    assert s.judged == 4 and s.errors == 5
    assert [r["grm_verdict"] for r in all_records(tmp_path / "out.jsonl")] == ["A", "B"] * 2
    errors = {e["row"]["prompt"][:8]: e for e in all_records(tmp_path / "out.errors.jsonl")}
    assert len(errors) == 5
    assert "'chosen' is a int (42)" in errors["number"]["error"]
    assert errors["no rejec"]["stage"] == errors["empty"]["stage"] == "input"
    assert "'rejected' is missing" in errors["no rejec"]["error"]
    assert "responses[1] is empty" in errors["empty"]["error"]
    assert errors["too long"]["stage"] == "length" and "does not fit" in errors["too long"]["error"]
    assert errors["BOOM"]["stage"] == "engine" and "engine fell over" in errors["BOOM"]["error"]
    # Errors count as finished; --retry-errors judges them again.
    rm2, engine2 = fake_rm(max_context=2048)
    s2 = grm.label(src, tmp_path / "out.jsonl", rm=rm2, k=2, batch_size=8, progress=False)
    assert s2.judged == 0 and generate_calls(engine2) == 0
    s3 = grm.label(
        src, tmp_path / "out.jsonl", rm=rm2, k=2, batch_size=8, progress=False, retry_errors=True
    )
    assert s3.judged == 1 and s3.errors == 4  # BOOM now passes; the bad rows stay bad
    assert len(all_records(tmp_path / "out.jsonl")) == 5


BAD_LINES = ['{"prompt": "cut short", ', '"x"', "[1, 2]", "42", "null", '{"text": "no shape"}']


@pytest.mark.parametrize("task", ["label", "rank"])
def test_lines_that_are_not_rows_become_error_rows_with_their_line(
    tmp_path: Path, task: str
) -> None:
    good = (
        rb_rows(2)
        if task == "label"
        else [{"prompt": f"6 x 7? #{i}", "responses": ["41", "42", f"40 {i}"]} for i in range(2)]
    )
    lines = [json.dumps(good[0]), *BAD_LINES, "", json.dumps(good[1]), '"x"']
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    rm, _ = fake_rm(picks_42 if task == "label" else scores_42)
    run = grm.label if task == "label" else grm.rank_dataset
    opts = {} if task == "label" else {"method": "pointwise"}
    s = run(src, tmp_path / "out.jsonl", rm=rm, k=2, batch_size=3, progress=False, **opts)
    assert s.judged == 2 and s.rows == 9 and s.written == 2 and s.error_rows == 7
    errors = all_records(tmp_path / "out.errors.jsonl")
    assert [e["line"] for e in errors] == [2, 3, 4, 5, 6, 7, 10]  # 1-based, blank line 8 skipped
    assert all(
        e["stage"] == "input" and e["error"].startswith(f"line {e['line']}: ") for e in errors
    )
    why = [e["error"] for e in errors]
    assert "is not valid JSON" in why[0] and errors[0]["row"] == BAD_LINES[0]
    for text, kind in zip(why[1:5], ["string", "array", "number", "null"], strict=True):
        assert f"is a JSON {kind}" in text and "not an object" in text
    assert "cannot tell the data format" in why[5] and errors[5]["row"] == {"text": "no shape"}
    assert errors[6]["grm_row_id"] != errors[1]["grm_row_id"]  # the same bad line twice
    assert len({e["grm_row_id"] for e in errors}) == 7


def test_resuming_with_other_settings_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rb_rows(2))
    rm, _ = fake_rm()
    grm.label(src, tmp_path / "out.jsonl", rm=rm, k=2, progress=False)
    with pytest.raises(ValueError, match=r"k: 2 -> 4.*delete"):
        grm.label(src, tmp_path / "out.jsonl", rm=rm, k=4, progress=False)


def _rec(verdict: str, conf: float | None, prompt: Any = "q") -> dict[str, Any]:
    row = {"prompt": prompt, "chosen": "c", "rejected": "r"}
    return {"id": verdict, "row": row, "fields": {"grm_verdict": verdict, "grm_confidence": conf}}


def test_dpo_rows_follow_the_verdict_the_filter_and_the_tie_rule() -> None:
    recs = [_rec("A", 0.9), _rec("B", 0.9), _rec("A", 0.55), _rec("tie", 0.5), _rec("none", None)]
    dropped = dpo_rows(recs, JobConfig(format="dpo", min_confidence=0.6))
    assert dropped == [
        {"prompt": "q", "chosen": "c", "rejected": "r"},
        {"prompt": "q", "chosen": "r", "rejected": "c"},
    ]
    kept = dpo_rows(recs, JobConfig(format="dpo", ties="keep"))
    assert len(kept) == 4 and kept[-1] == {"prompt": "q", "chosen": "c", "rejected": "r"}
    chat = dpo_rows([_rec("B", 0.8, [{"role": "user", "content": "q"}])], JobConfig())
    assert chat[0]["chosen"] == [{"role": "assistant", "content": "r"}]


def test_label_to_dpo_end_to_end(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rb_rows(4))
    rm, _ = fake_rm()
    s = grm.label(src, tmp_path / "dpo.jsonl", rm=rm, k=2, format="dpo", progress=False)
    out = all_records(tmp_path / "dpo.jsonl")
    assert s.written == 4 and all(set(r) == {"prompt", "chosen", "rejected"} for r in out)
    assert all(r["chosen"] == "42" for r in out)


def test_parquet_and_saved_dataset_inputs_match_jsonl(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = rb_rows(5)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    outs = {}
    for name, src in [
        ("jsonl", write_jsonl(tmp_path / "in.jsonl", rows)),
        ("parquet", tmp_path / "in.parquet"),
        ("ds", tmp_path / "ds"),
    ]:
        rm, _ = fake_rm()
        grm.label(src, tmp_path / f"{name}.parquet", rm=rm, k=2, batch_size=2, progress=False)
        table = pq.read_table(tmp_path / f"{name}.parquet").to_pylist()
        outs[name] = [(r["grm_row_id"], r["grm_verdict"], r["grm_p_a"]) for r in table]
    assert outs["jsonl"] == outs["parquet"] == outs["ds"] and len(outs["ds"]) == 5


def test_a_global_chain_budget_caps_adaptive_k(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rb_rows(12))
    split = lambda p, i: "Final verdict: [[A]]" if i % 2 else "Final verdict: [[B]]"  # noqa: E731
    rm, _ = fake_rm(split)
    opts = {"max_k": 8, "wave_size": 2}
    s = grm.label(
        src,
        tmp_path / "out.jsonl",
        rm=rm,
        k="auto",
        budget=36,
        judge_options=opts,
        batch_size=4,
        progress=False,
    )
    assert 24 < s.chains <= 36  # the first waves (2 x 12) and then the budget
    rm2, _ = fake_rm(split)
    free = grm.label(
        src, tmp_path / "free.jsonl", rm=rm2, k="auto", judge_options=opts, progress=False
    )
    assert free.chains == 8 * 12  # undecided everywhere: max_k each


@pytest.mark.parametrize(("method", "script"), [("knockout", picks_42), ("pointwise", scores_42)])
def test_rank_picks_the_best_of_n(tmp_path: Path, method: str, script: Any) -> None:
    rows = [
        {
            "prompt": f"6 x 7? #{i}",
            "responses": [f"40 ({i})", f"41 ({i})", "42", f"43 ({i})"][i:]
            + [f"40 ({i})", f"41 ({i})", "42", f"43 ({i})"][:i],
        }
        for i in range(3)
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    engine = FakeEngine(script)
    rm = RewardModel(engine)
    s = grm.rank_dataset(src, tmp_path / "out.jsonl", rm=rm, k=2, method=method, progress=False)
    out = all_records(tmp_path / "out.jsonl")
    assert [r["grm_best_response"] for r in out] == ["42"] * 3
    assert all(r["grm_order"][0] == r["grm_best"] and len(r["grm_scores"]) == 4 for r in out)
    assert s.judged == 3 and s.chains == sum(r["grm_k"] for r in out) > 0


def test_job_config_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="budget=10 needs k='auto'"):
        JobConfig(k=4, budget=10)
    with pytest.raises(ValueError, match="min_confidence must be in"):
        JobConfig(min_confidence=1.5)
    with pytest.raises(ValueError, match="ranking method 'best' is unknown"):
        JobConfig(method="best")
    with pytest.raises(ValueError, match="must not set 'seed'"):
        JobConfig(judge_options={"seed": 1})
    with pytest.raises(ValueError, match="max_k must be"):
        JobConfig(k="auto", judge_options={"max_k": 0})


GRM = [sys.executable, "-m", "grm.cli"]


def test_cli_registers_label_and_rank_and_reports_bad_input(tmp_path: Path) -> None:
    help_out = subprocess.run([*GRM, "--help"], capture_output=True, text=True, timeout=120)
    assert "label" in help_out.stdout and "rank" in help_out.stdout
    missing = subprocess.run(
        [*GRM, "label", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    bad_out = subprocess.run(
        [*GRM, "rank", str(tmp_path), "--out", str(tmp_path / "o.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad_out.returncode == 2 and "must end in .jsonl or .parquet" in bad_out.stderr


def test_grm_imports_without_ray_and_the_ray_path_names_the_extra(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rb_rows(1))
    code = (
        "import sys\n"
        "sys.modules['ray'] = None  # as if Ray were not installed\n"
        "import grm, grm.jobs, grm.jobs.ray_job\n"
        "try:\n"
        f"    grm.label({str(src)!r}, {str(tmp_path / 'o.jsonl')!r}, ray=True)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "pip install 'grm[ray]'" in out


def test_cli_urls_spread_the_job_over_remote_servers() -> None:
    from grm.cli import build_parser
    from grm.cli.label import model_spec

    argv = ["label", "in.jsonl", "--out", "o.jsonl", "--engine", "remote", "--max-tokens", "64"]
    urls = ["--url", "http://10.0.0.1:8000", "--url", "http://10.0.0.2:8000"]
    spec = model_spec(build_parser().parse_args([*argv, *urls]))
    assert spec.engine == "remote" and spec.judge["max_tokens"] == 64
    assert spec.engine_options["urls"] == ["http://10.0.0.1:8000", "http://10.0.0.2:8000"]
    with pytest.raises(ValueError, match="--url is for --engine remote"):
        model_spec(build_parser().parse_args(["rank", "in.jsonl", "--out", "o.jsonl", *urls]))
