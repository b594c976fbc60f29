"""Properties of the published judges' parsers.

Differential: each parser agrees with a small reference implementation of the original
code's rule (written here from the file named in its docstring) on generated judge
outputs: prose, verdicts in and out of format, several verdicts, cut chains. The prose
holds no quotation (no parenthesis, code, comment or blockquote) and no "r", so it never
spells a Prometheus marker: the two rules differ only where grm's is safer on purpose.

Timing: every parser reads a long chain in linear time, whatever it is made of. Linear is
tested by growth (tests/growth.py): 8x the text (2 kB -> 16 kB) must take well under the
64x a scan that backtracks would take, so neither a loaded machine nor a fast one decides the
outcome. The sizes stay small on purpose: between 16 kB and 128 kB memory effects alone
make some linear parsers 20x slower (measured), and a backtracking regex that needs a
second for 8 kB needs a minute for 64 kB, so a small text also fails a bad parser quickly.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from growth import assert_linear
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grm.quoting import LINE_WINDOW
from grm.templates import get_template, template_names

DIFF = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
prose = st.text(alphabet="abcdefghijklmnopqstuvwxyz0123456789 .,:;!?\n", max_size=40)


def chains(*pieces: str) -> st.SearchStrategy[str]:
    return st.lists(st.one_of(prose, st.sampled_from(pieces)), max_size=8).map("".join)


def winner(name: str, text: str) -> int | None:
    parsed = get_template(name).parse(text, 2)
    return None if parsed is None else parsed.winner


def scores(name: str, text: str, n: int) -> tuple[float, ...] | None:
    parsed = get_template(name).parse(text, n)
    return None if parsed is None else parsed.scores


# ---- RM-R1: eval/reward-bench/rewardbench/generative.py process_judgement
def ref_rm_r1(text: str) -> int | None:
    if "[[A]]" in text and "[[B]]" in text:
        return None
    if "[[A]]" in text:
        return 0
    if "[[B]]" in text:
        return 1
    return None


@DIFF
@given(
    chains(
        "[[A]]",
        "[[B]]",
        "<answer>[[A]]</answer>",
        "<answer>[[B]]</answer>",
        "[[",
        "<answer>",
        "</answer>",
        "[[C]]",
    )
)
def test_rm_r1_matches_the_original_rule(text: str) -> None:
    assert winner("rm-r1", text) == ref_rm_r1(text)
    assert winner("rm-r1-reasoning", text) == ref_rm_r1(text)


# ---- J1: fairseq2 _generative_judge.py J1PairwisePreferenceExtractor.extract
def ref_j1(text: str) -> int | None:
    found = re.findall(r"<answer>\s*\[\[(A|B)\]\]\s*</answer>", text.strip())
    return None if not found else "AB".index(found[-1])


@DIFF
@given(
    chains(
        "<answer>[[A]]</answer>",
        "<answer> [[B]] </answer>",
        "<think>",
        "</think>",
        "[[A]]",
        "<answer>",
        "<answer> [[",
        "</answer>",
    )
)
def test_j1_matches_the_original_rule(text: str) -> None:
    assert winner("j1", text) == ref_j1(text)


# ---- RRM: scripts/run_generative.py (Skywork branch, extract_answer, last_boxed_only_string)
def ref_rrm(text: str) -> int | None:
    answer = "<think>" + text
    if "</think>" not in answer:
        return None
    solution = answer.split("</think>")[1]
    idx = solution.rfind("\\boxed")
    if idx < 0:
        return None
    depth, end = 0, None
    for i in range(idx, len(solution)):
        if solution[i] == "{":
            depth += 1
        if solution[i] == "}":
            depth -= 1
            if depth == 0:
                end = i
                break
    if end is None:
        return None
    boxed = solution[idx : end + 1]
    if not boxed.startswith("\\boxed{"):
        return None
    content = boxed[len("\\boxed{") : -1]
    return {"Assistant 1": 0, "Assistant 2": 1}.get(content)


@DIFF
@given(
    chains(
        "</think>",
        "\\boxed{Assistant 1}",
        "\\boxed{Assistant 2}",
        "\\boxed{Assistant 3}",
        "\\boxed{x}",
        "<think>",
        "\\boxed{Assistant",
    )
)
def test_rrm_matches_the_original_rule(text: str) -> None:
    assert winner("rrm", text) == ref_rrm(text)


# ---- JudgeLRM: judgelrm_inference.py (split on </think>, first two answers) + RL range 0-10
def ref_judgelrm(text: str) -> tuple[float, ...] | None:
    if "</think>" not in text:
        return None
    found = re.findall(r"<answer>\s*(\d+)\s*</answer>", text.split("</think>")[1])
    if len(found) < 2:
        return None
    a, b = int(found[0]), int(found[1])
    return (float(a), float(b)) if 0 <= a <= 10 and 0 <= b <= 10 else None


@DIFF
@given(
    chains(
        "</think>",
        "<answer>7</answer>",
        "<answer> 10 </answer>",
        "<answer>0</answer>",
        "<answer>11</answer>",
        "<answer>x</answer>",
        "<answer>",
    )
)
def test_judgelrm_matches_the_original_rule(text: str) -> None:
    assert scores("judgelrm", text, 2) == ref_judgelrm(text)


# ---- DeepSeek-GRM (paper appendix): the last "Scores: \boxed{...}", integers 1-10
def ref_deepseek_grm(text: str, n: int) -> tuple[float, ...] | None:
    found = re.findall(r"Scores:\s*\\boxed\{([^{}]*)\}", text)
    if not found:
        return None
    parts = [p.strip() for p in found[-1].split(",")]
    if len(parts) != n or not all(re.fullmatch(r"[0-9]+", p) for p in parts):
        return None
    values = [int(p) for p in parts]
    return tuple(float(v) for v in values) if all(1 <= v <= 10 for v in values) else None


@DIFF
@given(
    chains(
        "Scores: \\boxed{8, 3}",
        "Scores: \\boxed{10, 1}",
        "Scores: \\boxed{11, 2}",
        "Scores: \\boxed{5}",
        "Scores: \\boxed{",
        "Scores:",
    ),
    st.integers(1, 2),
)
def test_deepseek_grm_matches_the_paper_rule(text: str, n: int) -> None:
    assert scores("deepseek-grm", text, n) == ref_deepseek_grm(text, n)


# ---- Prometheus: libs/prometheus-eval/prometheus_eval/parser.py (first match; at most one here)
REF_ABS = re.compile(
    r"(?:\[RESULT\]|\[SCORE\]|Score:?|score:?|Result:?|\[Result\]:?|score\s+of)\s*(?:\(|\[|\s)*"
    r"(\d+)(?:(?:\)|\]|\s|$)|(?:/\s*5|\s*out\s*of\s*5))",
    re.I,
)
REF_REL = re.compile(
    r"(?:\[RESULT\]|\[RESULT:\s*|\[Response\s+|\[Result\](?:\s+Response)?|\[Result:\s*|"
    r"(?:^|\n)Result:?\s*)\s*(A|B)(?:\]|\s|$)",
    re.I | re.M,
)


def one_verdict(*verdicts: str) -> st.SearchStrategy[str]:
    return st.tuples(prose, st.sampled_from(("", *verdicts)), prose).map("".join)


@DIFF
@given(
    one_verdict("[RESULT] 4", "[RESULT] (5)", "[RESULT] 7", "Score: 3", "[RESULT]", "[RESULT] 2/5")
)
def test_prometheus_absolute_matches_the_original_rule(text: str) -> None:
    m = REF_ABS.search(text)
    ref = float(m.group(1)) if m and 1 <= int(m.group(1)) <= 5 else None
    got = scores("prometheus-absolute", text, 1)
    assert got == (None if ref is None else (ref,))


@DIFF
@given(one_verdict("[RESULT] A", "[RESULT] B", "[RESULT] C", "[Response B]", "[RESULT]"))
def test_prometheus_relative_matches_the_original_rule(text: str) -> None:
    m = REF_REL.search(text)
    ref = "AB".index(m.group(1).upper()) if m else None
    assert winner("prometheus-relative", text) == ref


# ---- linear time
FRAGMENTS = [
    "(",
    ")",
    "((",
    "```",
    "`",
    "<!--",
    "-->",
    "\n>",
    "> ",
    "<response_A>",
    "</response_A>",
    "<Response_B>",
    "[[A]]",
    "[[B]]",
    "[[",
    "]]",
    "\\boxed{",
    "\\boxed{Assistant 1}",
    "}",
    "</think>",
    "<think>",
    "<answer>",
    "</answer>",
    "<answer>7</answer>",
    "8",
    "10",
    " ",
    "\n",
    "Scores: \\boxed{",
    "Final Scores: [[",
    "Final verdict: [[",
    "[RESULT] ",
    "Score:",
    "score ",
    "Overall Score: [[",
    "Turn Scores: [[",
    ",",
    "a",
    "x" * 50,
]
# Above the quoting scan's bounded window (grm.quoting.LINE_WINDOW): below it the window grows
# with the input, then stops, a one-time step (rm-r1's "[[B]]x..`}</answer>" took 42x from
# 2,000 to 16,000 chars and nothing more after) that a growth ratio reads as superlinear.
SIZE = 2 * LINE_WINDOW
TEMPLATES = [n for n in template_names() if n not in ("pairwise", "trajectory", "prometheus")]


def parsing(name: str, unit: str, n: int) -> Callable[[int], Callable[[], object]]:
    """For :func:`assert_linear`: the parse of ``unit`` repeated to a given length."""
    template = get_template(name)

    def make(size: int) -> Callable[[], object]:
        text = (unit * (size // len(unit) + 1))[:size]
        return lambda: template.parse(text, n)

    return make


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6), st.sampled_from(TEMPLATES))
def test_every_parser_reads_in_linear_time(pieces: list[str], name: str) -> None:
    if name == "multiturn":
        return  # needs a conversation request; covered by the fixed worst cases below
    n = 1 if name == "prometheus-absolute" else 2
    unit = "".join(pieces)
    assert_linear(parsing(name, unit, n), SIZE, (name, unit))


def test_known_worst_cases_stay_linear() -> None:
    for unit in [
        "(a",
        "((((",
        "()",
        "[[A]] (",
        "([[A]])",
        "([[B]]) [[A]] ",
        "`[[A]]`",
        "\n>",
        "\n>[[A]]",
        "<!--",
        "<!--[[A]]",
        "```",
        "```[[A]]",
        "[RESULT] ",
        "[RESULT] 9x",
        "<!--[RESULT] 3",
        "Score:   ",
        "<response_A>",
        "<response_A>[[A]]",
        "<answer>[[A]]</answer>",
        "(<answer>[[A]]</answer>)",
        "Scores: \\boxed{",
        "(\\boxed{Assistant 1})",
        "</think>(<answer>3</answer>)",
        "Turn Scores: [[",
        "[[B]] [[A]]",
    ]:
        for name in TEMPLATES:
            n = 1 if name == "prometheus-absolute" else 3 if name == "multiturn" else 2
            assert_linear(parsing(name, unit, n), SIZE, (name, unit))
