"""Adaptive k on a scripted engine: waves, position balance, budgets, abstentions."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from fake_engine import FakeEngine
from grm.inference.base import Generation, GenRequest, SamplingConfig

from grm import JudgeConfig, JudgeRequest, RewardModel
from grm.adaptive import allocate
from grm.vote_prior import prior_from


def slot_text(prompt: str, slot: str) -> str:
    m = re.search(rf"<response_{slot}>\n(.*?)\n</response_{slot}>", prompt, re.S)
    assert m, prompt
    return m.group(1)


def judge_script(prompt: str, i: int) -> str:
    """Right every time on 'easy' questions; alternating (a 50/50 split) on 'hard' ones."""
    if "hard" in prompt:
        return "Final verdict: [[A]]" if i % 2 == 0 else "Final verdict: [[B]]"
    return "Final verdict: [[A]]" if "42" in slot_text(prompt, "A") else "Final verdict: [[B]]"


class SeedRecorder(FakeEngine):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.seeds: list[int | None] = []

    def generate(
        self, requests: Sequence[GenRequest], sampling: SamplingConfig
    ) -> list[Generation]:
        self.seeds.append(sampling.seed)
        return super().generate(requests, sampling)


def batch() -> list[JudgeRequest]:
    return [
        JudgeRequest("easy: 17 + 25?", ("42", "43")),
        JudgeRequest("hard: which is nicer?", ("red", "blue")),
        JudgeRequest("easy: 40 + 2?", ("41", "42")),
    ]


def test_waves_go_only_to_undecided_requests() -> None:
    engine = SeedRecorder(judge_script)
    results = RewardModel(engine).compare_batch(batch(), k="auto", max_k=16)
    easy1, hard, easy2 = results
    assert (easy1.label, easy2.label) == ("A", "B")
    assert easy1.k_used == easy2.k_used == 4 and easy1.k_saved == 12
    assert easy1.stopped_by == "beta" and easy1.extra["waves"] == 1
    assert hard.k_used == 16 and hard.k_saved == 0 and hard.stopped_by == "max_k"
    assert hard.label == "tie" and hard.votes == (8, 8)
    # Wave 0: 3 requests x 2 orders; waves 1-3: the hard request's 2 orders only.
    gens = [c for c in engine.calls if c[0] == "generate"]
    assert gens == [("generate", 6)] + [("generate", 2)] * 3
    assert len(set(engine.seeds)) == 4  # every wave samples with its own seed


def test_position_balance_continues_across_waves() -> None:
    engine = FakeEngine(judge_script)
    hard = RewardModel(engine).compare_batch(batch(), k="auto", max_k=10, wave_size=3)[1]
    assert hard.k_used == 10  # waves of 3, 3, 3 and a last one capped at 1
    orders = [c.order for c in hard.chains]
    assert orders.count((0, 1)) == orders.count((1, 0)) == 5
    for end in (3, 6, 9):  # after every wave the two orders differ by at most one chain
        assert abs(orders[:end].count((0, 1)) - orders[:end].count((1, 0))) <= 1


def test_budget_goes_to_the_least_settled_requests() -> None:
    engine = FakeEngine(judge_script)
    reqs = [JudgeRequest("hard: a?", ("x", "y")), JudgeRequest("hard: b?", ("x", "y"))]
    # First wave 2 x 4 = 8 chains, then 6 left: request 0 gets 4, request 1 the last 2.
    out = RewardModel(engine).compare_batch(reqs, k="auto", max_k=16, budget=14)
    assert [r.k_used for r in out] == [8, 6]
    assert [r.stopped_by for r in out] == ["budget", "budget"]
    assert sum(r.k_used for r in out) == 14


def test_allocate_serves_least_settled_first() -> None:
    assert allocate({0: 4, 1: 4, 2: 4}, {0: 0.9, 1: 0.5, 2: 0.7}, budget=6) == {1: 4, 2: 2}
    assert allocate({0: 4, 1: 2}, {}, budget=None) == {0: 4, 1: 2}
    assert allocate({0: 4}, {0: 0.1}, budget=0) == {}


def test_budget_below_the_first_wave_is_an_error() -> None:
    rm = RewardModel(FakeEngine(judge_script))
    with pytest.raises(ValueError, match="budget=5 is below"):
        rm.compare_batch(batch(), k="auto", budget=5)


def test_abstaining_chains_run_to_max_k() -> None:
    rm = RewardModel(FakeEngine(lambda p, i: "I cannot decide."))
    v = rm.compare("q?", "x", "y", k="auto", max_k=8, on_unparsed="abstain")
    assert v.k_used == 8 and v.abstentions == 8 and v.stopped_by == "max_k"


def test_pointwise_auto_stops_on_the_score_difference() -> None:
    def scores(prompt: str, i: int) -> str:
        slots = re.findall(r"<response_(\d+)>\n(.*?)\n</response_\d+>", prompt, re.S)
        return "Final Scores: [[" + ", ".join("9" if "42" in t else "2" for _, t in slots) + "]]"

    rm = RewardModel(FakeEngine(scores))
    v = rm.score("17 + 25?", ["41", "42", "43"], k="auto", max_k=16)
    assert v.winner == 1 and v.k_used == 4 and v.stopped_by == "score_diff"


def test_other_rules_and_fixed() -> None:
    rm = RewardModel(FakeEngine(judge_script))
    easy = JudgeRequest("easy: 17 + 25?", ("42", "43"))
    assert rm.compare_batch([easy], k="auto", stopping="fixed", max_k=12)[0].k_used == 12
    sprt = rm.compare_batch([easy], k="auto", stopping="sprt", wave_size=2)[0]
    assert sprt.k_used == 4 and sprt.stopped_by == "sprt"  # needs a net lead of 4


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"k": "many"}, "k must be an integer >= 1 or 'auto'"),
        ({"confidence": 1.0}, "confidence must be in"),
        ({"max_k": 0}, "max_k must be"),
        ({"stopping": "nope"}, "choose one of"),
        ({"budget": 0}, "budget must be"),
    ],
)
def test_config_errors_name_the_field(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        JudgeConfig(**kw)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.vllm
def test_later_waves_hit_the_vllm_prefix_cache(vllm_engine) -> None:  # type: ignore[no-untyped-def]
    from grm.driver import sample_chains
    from grm.judge import plan_orders, prepare
    from grm.templates import get_template

    template = get_template("default")
    cfg = JudgeConfig(k="auto", max_tokens=8, on_unparsed="abstain")
    long = " ".join(f"step {i} of a long answer about caching waves." for i in range(40))
    reqs = [JudgeRequest(f"Prefix cache probe {i}: explain.", (long, long[::-1])) for i in range(2)]
    preps = [prepare(vllm_engine, template, r, i, cfg) for i, r in enumerate(reqs)]
    rates = []
    for wave in range(2):
        before = vllm_engine.stats()
        # One chain per order (n=1): with n > 1 vLLM's sibling chains already share the
        # prompt's cache inside a wave, which would hide the cold first wave.
        orders = [plan_orders("pairwise", 2, 2 * wave, 2, (0, p.index), cfg) for p in preps]
        sample_chains(vllm_engine, template, preps, orders, cfg, wave=wave)
        after = vllm_engine.stats()
        sent = after["prompt_tokens"] - before["prompt_tokens"]
        rates.append((after["cached_prompt_tokens"] - before["cached_prompt_tokens"]) / sent)
    print("prefix-cache hit rate per wave:", rates)
    # The second wave re-sends the same prompts: all but the last partial block is cached.
    assert rates[1] > 0.8 and rates[1] > rates[0] + 0.2


def test_cli_k_accepts_auto() -> None:
    from grm.cli import build_parser

    def k_of(text: str) -> object:
        return build_parser().parse_args(["judge", "--k", text]).k

    assert k_of("auto") == "auto" and k_of("8") == 8
    with pytest.raises(SystemExit):
        k_of("lots")


def test_replay_prefix_matches_the_wave_loop() -> None:
    """replay_prefix on a fixed-k run's chains (plan order) uses as many chains as k="auto"
    really draws, for every rule, wave size and confidence: the script gives chain j of each
    response order the same verdict in both runs, so only the stopping differs."""
    from grm.adaptive import replay_prefix
    from grm.judge import plan_orders

    # Votes for response 0, per response order (1: for "x", 0: for "y"), chain by chain.
    patterns = {
        "q0": ([1, 1, 1, 1, 1, 1, 1, 1], [1, 0, 1, 1, 1, 1, 1, 1]),
        "q1": ([1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]),  # pure position bias
        "q2": ([0, 1, 0, 1, 1, 0, 0, 0], [1, 0, 0, 1, 0, 0, 0, 1]),
    }
    seen: dict[str, int] = {}

    def script(prompt: str, i: int) -> str:
        q = next(k for k in patterns if f"{k}?" in prompt)
        order = 0 if slot_text(prompt, "A") == "x" else 1
        j = seen.get(f"{q}{order}", 0)
        seen[f"{q}{order}"] = j + 1
        for_x = patterns[q][order][j]
        # Response order 0 shows x as A; order 1 shows y as A.
        return "Final verdict: [[A]]" if for_x == (order == 0) else "Final verdict: [[B]]"

    reqs = [JudgeRequest(f"{q}?", ("x", "y")) for q in patterns]
    rm = RewardModel(FakeEngine(script))
    fixed = rm.compare_batch(reqs, k=16)
    cfg = rm.config
    used: set[tuple[int, ...]] = set()
    # bayes with a judge's prior that holds coin-flip pairs: it stops on splits too.
    prior = prior_from([1, 0, 0, 0, 0, 2, 0, 0, 0, 3])
    for rule in ("beta", "sprt", "entropy", "curtail", "score_diff", "bayes"):
        for wave, conf in ((1, 0.8), (2, 0.8), (2, 0.95), (4, 0.9)):
            ordered = []
            for i, r in enumerate(fixed):
                pools: dict[tuple[int, ...], list] = {}
                for c in r.chains:
                    pools.setdefault(c.order, []).append(c.judgment)
                plan = plan_orders("pairwise", 2, 0, 16, (cfg.seed, i), cfg)
                ordered.append([pools[o].pop(0) for o in plan])
            want = [replay_prefix(ch, 2, rule, wave, conf, 16, prior) for ch in ordered]
            seen.clear()
            auto = rm.compare_batch(
                reqs,
                k="auto",
                max_k=16,
                stopping=rule,
                wave_size=wave,
                confidence=conf,
                vote_prior=prior,
            )
            assert [r.k_used for r in auto] == want, (rule, wave, conf)
            used.add(tuple(want))
            seen.clear()
    assert len(used) >= 5 and any(min(u) < 16 for u in used)  # the settings do differ
